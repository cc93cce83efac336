// Image pyramids in the browser: how many levels an image has (as the server cuts its display
// tiles), and label maps drawn at a coarser level without reading every pixel. Pure.
import type { Rect } from "./geometry";

/** Side of a display tile, in level pixels: labeling/imageio.py TILE_SIZE. */
export const TILE_SIZE = 512;

/**
 * Levels of an image's pyramid: level 0 is the image, each next level halves it, and the last is
 * the first that fits in one tile. Matches labeling.imageio.pyramid_levels.
 */
export function levelCount(width: number, height: number, tileSize: number = TILE_SIZE): number {
  let levels = 1;
  while (Math.max(width, height) > tileSize * 2 ** (levels - 1)) levels++;
  return levels;
}

/** At most this many samples per side of a level pixel's block: 16 reads per pixel at most. */
const SAMPLES_PER_SIDE = 4;

/**
 * Writes `region` (in pixels of `level`) of a label-valued image as RGBA into `out`
 * (region.width * region.height * 4 bytes, row-major). A level pixel covers a 2^level square of
 * image pixels; it takes the first non-zero value among up to 4 x 4 evenly spaced samples of that
 * square, so a thin stroke stays visible when zoomed out (a plain subsample would drop it) while a
 * zoomed-out 8192x8192 view reads a sixteenth of the pixels. `value(index)` gives the value at an
 * image pixel (row-major index); `table` is RGBA per value (value * 4), value 0 transparent.
 */
export function paintLevelRGBA(
  value: (index: number) => number,
  imageWidth: number,
  imageHeight: number,
  level: number,
  region: Rect,
  table: Uint8ClampedArray,
  out: Uint8ClampedArray,
): void {
  if (out.length !== region.width * region.height * 4) {
    throw new RangeError(`out holds ${out.length} bytes; a ${region.width}x${region.height} region needs ${region.width * region.height * 4}`);
  }
  const factor = 2 ** level;
  const step = Math.max(1, factor / SAMPLES_PER_SIDE);
  const entries = table.length / 4;
  for (let row = 0; row < region.height; row++) {
    const top = (region.y + row) * factor;
    const bottom = Math.min(imageHeight, top + factor);
    for (let col = 0; col < region.width; col++) {
      const left = (region.x + col) * factor;
      const right = Math.min(imageWidth, left + factor);
      let found = 0;
      for (let y = top; y < bottom && !found; y += step) {
        for (let x = left; x < right; x += step) {
          found = value(y * imageWidth + x);
          if (found) break;
        }
      }
      const from = found < entries ? found * 4 : 0;
      const to = (row * region.width + col) * 4;
      out[to] = table[from];
      out[to + 1] = table[from + 1];
      out[to + 2] = table[from + 2];
      out[to + 3] = table[from + 3];
    }
  }
}

/**
 * The level pixels of a tile to repaint when the image pixels in `changed` changed: `changed`
 * scaled down to the tile's level (outwards, so a partly covered level pixel is included),
 * relative to the tile's corner and clipped to it; null when they do not meet. `tile` is in image
 * pixels (as viewport.tilesFor gives it); its level is `level`.
 */
export function levelRegion(tile: Rect, level: number, changed: Rect): Rect | null {
  const factor = 2 ** level;
  const x0 = Math.max(0, Math.floor((changed.x - tile.x) / factor));
  const y0 = Math.max(0, Math.floor((changed.y - tile.y) / factor));
  const x1 = Math.min(Math.ceil(tile.width / factor), Math.ceil((changed.x + changed.width - tile.x) / factor));
  const y1 = Math.min(Math.ceil(tile.height / factor), Math.ceil((changed.y + changed.height - tile.y) / factor));
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}
