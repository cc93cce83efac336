// Bucket fill: a 4-connected flood fill over a label map.
import { assertStorable, capturePatch, type LabelMap, type Patch } from "./labelmap";

/**
 * Replaces the 4-connected region of equal values around pixel (col, row) with `value`, in place.
 * Returns the undo patch (the changed pixels' bounding box and its previous values), or null when
 * nothing changed: the seed is outside the map or already holds `value`.
 *
 * Scanline fill with an explicit stack: recursion, or a queue entry per pixel, would overflow or
 * exhaust memory on an 8192 x 8192 map.
 */
export function floodFill(map: LabelMap, col: number, row: number, value: number): Patch | null {
  assertStorable(value);
  if (!Number.isInteger(col) || !Number.isInteger(row)) throw new RangeError("the seed must be a whole pixel");
  if (col < 0 || row < 0 || col >= map.width || row >= map.height) return null;
  const target = map.data[row * map.width + col];
  if (target === value) return null;
  const region = new Region(map.width, map.height);
  const stack = [col, row];
  while (stack.length > 0) {
    const y = stack.pop() as number;
    const x = stack.pop() as number;
    if (map.data[y * map.width + x] !== target) continue;
    const [left, right] = fillSpan(map, x, y, target, value, region);
    if (y > 0) pushSeeds(map, left, right, y - 1, target, stack);
    if (y + 1 < map.height) pushSeeds(map, left, right, y + 1, target, stack);
  }
  return region.patchOf(map, target);
}

/**
 * Fills the horizontal run of `target` through (x, y) and returns its inclusive [left, right].
 * Filled pixels no longer equal `target`, which is what stops the fill revisiting them.
 */
function fillSpan(map: LabelMap, x: number, y: number, target: number, value: number, region: Region): [number, number] {
  const rowStart = y * map.width;
  let left = x;
  while (left > 0 && map.data[rowStart + left - 1] === target) left--;
  let right = x;
  while (right + 1 < map.width && map.data[rowStart + right + 1] === target) right++;
  map.data.fill(value, rowStart + left, rowStart + right + 1);
  region.addSpan(left, right, y);
  return [left, right];
}

/** Pushes one seed per run of `target` on row y between left and right, so each run is filled once. */
function pushSeeds(map: LabelMap, left: number, right: number, y: number, target: number, stack: number[]): void {
  const rowStart = y * map.width;
  let inRun = false;
  for (let x = left; x <= right; x++) {
    const matches = map.data[rowStart + x] === target;
    if (matches && !inRun) stack.push(x, y);
    inRun = matches;
  }
}

/**
 * Which pixels the fill changed (one bit each, 8 MiB at 8192 x 8192) and their bounding box. The
 * bits are needed because after the fill, a pixel holding `value` inside the box may have held
 * it all along, and the undo patch must not turn it into `target`.
 */
class Region {
  private readonly bits: Uint8Array;
  private left = Infinity;
  private top = Infinity;
  private right = -Infinity;
  private bottom = -Infinity;

  constructor(private readonly width: number, height: number) {
    this.bits = new Uint8Array(Math.ceil((width * height) / 8));
  }

  addSpan(left: number, right: number, y: number): void {
    for (let x = left; x <= right; x++) {
      const index = y * this.width + x;
      this.bits[index >> 3] |= 1 << (index & 7);
    }
    this.left = Math.min(this.left, left);
    this.right = Math.max(this.right, right);
    this.top = Math.min(this.top, y);
    this.bottom = Math.max(this.bottom, y);
  }

  /** The undo patch: current values of the box, with every changed pixel put back to `target`. */
  patchOf(map: LabelMap, target: number): Patch {
    const box = { x: this.left, y: this.top, width: this.right - this.left + 1, height: this.bottom - this.top + 1 };
    const patch = capturePatch(map, box);
    for (let row = 0; row < box.height; row++) {
      for (let col = 0; col < box.width; col++) {
        if (this.has(box.x + col, box.y + row)) patch.before[row * box.width + col] = target;
      }
    }
    return patch;
  }

  private has(x: number, y: number): boolean {
    const index = y * this.width + x;
    return (this.bits[index >> 3] & (1 << (index & 7))) !== 0;
  }
}
