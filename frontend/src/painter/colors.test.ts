import { describe, expect, it } from "vitest";
import { paintLabelMapRGBA, parseHexColor, type Palette } from "./colors";
import { mapFromGrid } from "./test-grid";

describe("parseHexColor", () => {
  it("reads #rrggbb in either case", () => {
    expect(parseHexColor("#ff8000")).toEqual([255, 128, 0]);
    expect(parseHexColor("#0A0b0C")).toEqual([10, 11, 12]);
  });

  it.each(["ff8000", "#f80", "#ff80001", "#gg0000", " #ff8000", ""])("rejects %j", (text) => {
    expect(() => parseHexColor(text)).toThrow(SyntaxError);
  });
});

describe("paintLabelMapRGBA", () => {
  const palette: Palette = new Map([
    [1, [255, 0, 0]],
    [2, [0, 0, 255]],
  ]);

  /** RGBA bytes as one [r, g, b, a] per pixel, for readable expectations. */
  function pixels(out: Uint8ClampedArray): number[][] {
    return Array.from({ length: out.length / 4 }, (_, i) => Array.from(out.subarray(i * 4, i * 4 + 4)));
  }

  it("colours each class at `alpha` and leaves 0 transparent", () => {
    const map = mapFromGrid(["012", "210"]);
    const out = new Uint8ClampedArray(3 * 2 * 4);
    paintLabelMapRGBA(map, palette, 128, out);
    expect(pixels(out)).toEqual([
      [0, 0, 0, 0], [255, 0, 0, 128], [0, 0, 255, 128],
      [0, 0, 255, 128], [255, 0, 0, 128], [0, 0, 0, 0],
    ]);
  });

  it("leaves values missing from the palette transparent, overwriting what was in `out`", () => {
    const map = mapFromGrid(["39"]);
    const out = new Uint8ClampedArray(8).fill(77);
    paintLabelMapRGBA(map, palette, 255, out);
    expect(pixels(out)).toEqual([[0, 0, 0, 0], [0, 0, 0, 0]]);
  });

  it("keeps 0 transparent even when the palette has a colour for it", () => {
    const out = new Uint8ClampedArray(4);
    paintLabelMapRGBA(mapFromGrid(["0"]), new Map([[0, [9, 9, 9]]]), 255, out);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
  });

  it("writes only `rect`, into an array the rect's size", () => {
    const map = mapFromGrid(["0000", "0120", "0210", "0000"]);
    const out = new Uint8ClampedArray(2 * 1 * 4);
    paintLabelMapRGBA(map, palette, 200, out, { x: 1, y: 2, width: 2, height: 1 });
    expect(pixels(out)).toEqual([[0, 0, 255, 200], [255, 0, 0, 200]]);
  });

  it("rejects an `out` of the wrong size and a rect off the map", () => {
    const map = mapFromGrid(["00", "00"]);
    expect(() => paintLabelMapRGBA(map, palette, 255, new Uint8ClampedArray(12))).toThrow(RangeError);
    const out = new Uint8ClampedArray(16);
    expect(() => paintLabelMapRGBA(map, palette, 255, out, { x: 1, y: 0, width: 2, height: 2 })).toThrow(RangeError);
    expect(() => paintLabelMapRGBA(map, palette, 255, out, { x: 0.5, y: 0, width: 2, height: 2 })).toThrow(RangeError);
  });
});
