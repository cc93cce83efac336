// Class colours and label-map overlays as RGBA pixels, ready for an ImageData.
import type { Rect } from "./geometry";
import type { LabelMap } from "./labelmap";

export type RGB = [number, number, number];

/** Class value -> colour. Value 0 (unlabelled) is always transparent, whatever the palette says. */
export type Palette = Map<number, RGB>;

/** "#rrggbb" (either case, as LabelClass.color stores it) to [r, g, b]; throws on anything else. */
export function parseHexColor(hex: string): RGB {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (match === null) throw new SyntaxError(`not a #rrggbb colour: ${JSON.stringify(hex)}`);
  return [parseInt(match[1], 16), parseInt(match[2], 16), parseInt(match[3], 16)];
}

/**
 * Writes `rect` of the map (default: all of it) into `out` as RGBA, row-major, `out` being
 * exactly rect.width * rect.height * 4 bytes (an ImageData of the rect's size, drawn with
 * putImageData at rect.x, rect.y). Classes in the palette get their colour at `alpha`; value 0
 * and values missing from the palette (a class deleted meanwhile) are fully transparent.
 */
export function paintLabelMapRGBA(
  map: LabelMap,
  palette: Palette,
  alpha: number,
  out: Uint8ClampedArray,
  rect: Rect = { x: 0, y: 0, width: map.width, height: map.height },
): void {
  assertInside(map, rect);
  if (out.length !== rect.width * rect.height * 4) {
    throw new RangeError(`out holds ${out.length} bytes; a ${rect.width}x${rect.height} rect needs ${rect.width * rect.height * 4}`);
  }
  const table = rgbaTable(palette, alpha);
  const entries = table.length / 4;
  for (let row = 0; row < rect.height; row++) {
    const source = (rect.y + row) * map.width + rect.x;
    for (let col = 0; col < rect.width; col++) {
      const value = map.data[source + col];
      const from = value < entries ? value * 4 : 0; // entry 0 is transparent
      const to = (row * rect.width + col) * 4;
      out[to] = table[from];
      out[to + 1] = table[from + 1];
      out[to + 2] = table[from + 2];
      out[to + 3] = table[from + 3];
    }
  }
}

/**
 * RGBA per class value, indexed by value * 4: one array lookup per pixel instead of a Map lookup,
 * which matters at 67 million pixels. Unset entries (value 0, gaps) are zero, i.e. transparent.
 */
export function rgbaTable(palette: Palette, alpha: number): Uint8ClampedArray {
  const size = Math.max(0, ...palette.keys()) + 1;
  const table = new Uint8ClampedArray(size * 4);
  for (const [value, [r, g, b]] of palette) {
    if (Number.isInteger(value) && value > 0) table.set([r, g, b, alpha], value * 4);
  }
  return table;
}

/** A rect reaching outside the map would read other rows' pixels (or past the end) silently. */
function assertInside(map: LabelMap, rect: Rect): void {
  const whole = [rect.x, rect.y, rect.width, rect.height].every(Number.isInteger);
  if (!whole || rect.x < 0 || rect.y < 0 || rect.width < 0 || rect.height < 0 || rect.x + rect.width > map.width || rect.y + rect.height > map.height) {
    throw new RangeError(`rect ${JSON.stringify(rect)} is not whole pixels inside the ${map.width}x${map.height} map`);
  }
}
