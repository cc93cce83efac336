import { describe, expect, it } from "vitest";
import { levelCount, levelRegion, paintLevelRGBA, TILE_SIZE } from "./pyramid";

describe("levelCount", () => {
  it("adds a level each time the longer side doubles past one tile, as the server does", () => {
    expect(levelCount(1, 1)).toBe(1);
    expect(levelCount(TILE_SIZE, 40)).toBe(1);
    expect(levelCount(TILE_SIZE + 1, 40)).toBe(2);
    expect(levelCount(1100, 700)).toBe(3); // tests/labeling/test_tiles.py has the same
    expect(levelCount(2048, 2048)).toBe(3);
    expect(levelCount(300, 8192)).toBe(5);
  });
});

/** Values of the painted region as class numbers again: red channel / 10 (see TABLE). */
const TABLE = new Uint8ClampedArray(4 * 4).map((_, i) => (i % 4 === 3 ? (i > 3 ? 255 : 0) : Math.floor(i / 4) * 10));
function painted(values: Uint8Array, width: number, height: number, level: number, region = { x: 0, y: 0, width: 0, height: 0 }): number[][] {
  const out = new Uint8ClampedArray(region.width * region.height * 4);
  paintLevelRGBA((i) => values[i], width, height, level, region, TABLE, out);
  return Array.from({ length: region.height }, (_, r) => Array.from({ length: region.width }, (_, c) => out[(r * region.width + c) * 4] / 10));
}

describe("paintLevelRGBA", () => {
  it("copies level 0 pixel for pixel, value 0 transparent", () => {
    const values = Uint8Array.from([0, 1, 2, 3, 0, 1]);
    const out = new Uint8ClampedArray(6 * 4);
    paintLevelRGBA((i) => values[i], 3, 2, 0, { x: 0, y: 0, width: 3, height: 2 }, TABLE, out);
    expect(Array.from(out.filter((_, i) => i % 4 === 0))).toEqual([0, 10, 20, 30, 0, 10]);
    expect(out[3]).toBe(0);
    expect(out[7]).toBe(255);
  });

  it("keeps a one-pixel line visible at level 1 and 2, which a plain subsample would drop", () => {
    const width = 8;
    const values = new Uint8Array(width * width);
    for (let x = 0; x < width; x++) values[5 * width + x] = 2; // row 5: odd, missed by [::2] and [::4]
    expect(painted(values, width, width, 1, { x: 0, y: 0, width: 4, height: 4 })).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [2, 2, 2, 2],
      [0, 0, 0, 0],
    ]);
    expect(painted(values, width, width, 2, { x: 0, y: 0, width: 2, height: 2 })).toEqual([
      [0, 0],
      [2, 2],
    ]);
  });

  it("paints only the region asked for, and clips blocks at the image's edge", () => {
    const width = 5;
    const height = 3;
    const values = new Uint8Array(width * height);
    values[2 * width + 4] = 3; // bottom-right pixel, alone in the last (partial) block
    expect(painted(values, width, height, 1, { x: 1, y: 0, width: 2, height: 2 })).toEqual([
      [0, 0],
      [0, 3],
    ]);
  });

  it("reads at most 16 pixels per level pixel however coarse the level", () => {
    let reads = 0;
    const out = new Uint8ClampedArray(4 * 4);
    paintLevelRGBA(() => (reads++, 0), 4096, 4096, 10, { x: 0, y: 0, width: 2, height: 2 }, TABLE, out);
    expect(reads).toBe(4 * 16);
  });

  it("refuses an output buffer of the wrong size", () => {
    expect(() => paintLevelRGBA(() => 0, 4, 4, 0, { x: 0, y: 0, width: 2, height: 2 }, TABLE, new Uint8ClampedArray(4))).toThrow(RangeError);
  });
});

describe("levelRegion", () => {
  const tile = { x: 1024, y: 512, width: 1024, height: 300 }; // a level-1 tile at the bottom edge

  it("scales the changed pixels down to the level, outwards, relative to the tile", () => {
    expect(levelRegion(tile, 1, { x: 1030, y: 513, width: 5, height: 2 })).toEqual({ x: 3, y: 0, width: 3, height: 2 });
    expect(levelRegion(tile, 0, { x: 1030, y: 513, width: 5, height: 2 })).toEqual({ x: 6, y: 1, width: 5, height: 2 });
  });

  it("clips to the tile, whose last level pixel may cover part of one", () => {
    expect(levelRegion(tile, 1, { x: 0, y: 0, width: 5000, height: 5000 })).toEqual({ x: 0, y: 0, width: 512, height: 150 });
    expect(levelRegion({ ...tile, height: 301 }, 1, { x: 2000, y: 812, width: 1, height: 1 })).toEqual({ x: 488, y: 150, width: 1, height: 1 });
  });

  it("is null for changes outside the tile", () => {
    expect(levelRegion(tile, 1, { x: 0, y: 0, width: 1024, height: 512 })).toBeNull();
    expect(levelRegion(tile, 2, { x: 2048, y: 600, width: 10, height: 10 })).toBeNull();
  });
});
