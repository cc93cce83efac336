// Label maps in memory and the undo patches painting leaves behind. Pure: no DOM, no framework.
import type { Rect } from "./geometry";

/**
 * The browser's copy of a label map, one byte per pixel, row-major: value 0 = unlabelled,
 * v > 0 = the class with index v. The server allows 16-bit values, but the browser reads and
 * writes maps as 8-bit PNGs, so class indices above 255 cannot be painted here.
 */
export interface LabelMap {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The previous values of a rectangle of a label map (width * height, row-major), to undo one edit. */
export interface Patch extends Rect {
  before: Uint8Array;
}

/** A map of the given size with every pixel unlabelled. */
export function createLabelMap(width: number, height: number): LabelMap {
  return { width, height, data: new Uint8Array(width * height) };
}

/**
 * Throws when `value` is not a label value: a Uint8Array would wrap it silently (300 becomes 44)
 * and paint the wrong class.
 */
export function assertStorable(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new RangeError(`label value ${value} is not an integer from 0 to 255`);
  }
}

/** `rect` clipped to the map's pixels, with integer bounds, or null when nothing is left. */
export function clipToMap(map: LabelMap, rect: Rect): Rect | null {
  const left = Math.max(0, Math.floor(rect.x));
  const top = Math.max(0, Math.floor(rect.y));
  const right = Math.min(map.width, Math.ceil(rect.x + rect.width));
  const bottom = Math.min(map.height, Math.ceil(rect.y + rect.height));
  if (left >= right || top >= bottom) return null;
  return { x: left, y: top, width: right - left, height: bottom - top };
}

/** The current values of `rect` (integer, inside the map), ready to be stored before an edit. */
export function capturePatch(map: LabelMap, rect: Rect): Patch {
  const before = new Uint8Array(rect.width * rect.height);
  for (let row = 0; row < rect.height; row++) {
    const start = (rect.y + row) * map.width + rect.x;
    before.set(map.data.subarray(start, start + rect.width), row * rect.width);
  }
  return { x: rect.x, y: rect.y, width: rect.width, height: rect.height, before };
}

/**
 * Writes the patch's values back into the map and returns the inverse patch (the values it
 * overwrote), so the same call serves undo and redo.
 */
export function applyPatch(map: LabelMap, patch: Patch): Patch {
  const inverse = capturePatch(map, patch);
  for (let row = 0; row < patch.height; row++) {
    const source = patch.before.subarray(row * patch.width, (row + 1) * patch.width);
    map.data.set(source, (patch.y + row) * map.width + patch.x);
  }
  return inverse;
}
