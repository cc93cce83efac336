import { describe, expect, it } from "vitest";
import { applyPatch, createLabelMap } from "./labelmap";
import { rasterizeStroke, strokeBounds, type Stroke } from "./raster";
import { gridOf, mapFromGrid } from "./test-grid";

function paint(map = createLabelMap(10, 10), ...strokes: Stroke[]): string[] {
  for (const stroke of strokes) rasterizeStroke(map, stroke);
  return gridOf(map);
}

describe("rasterizeStroke", () => {
  it("paints a single point as a disc of pixels whose centres lie within the radius", () => {
    // Centres around (5, 5) sit at offsets ±0.5 and ±1.5: only the 2x2 block is within 1.5
    // (0.5² + 1.5² = 2.5 > 2.25).
    expect(paint(undefined, { class_index: 1, radius: 1.5, points: [[5, 5]] })).toEqual([
      "..........",
      "..........",
      "..........",
      "..........",
      "....11....",
      "....11....",
      "..........",
      "..........",
      "..........",
      "..........",
    ]);
  });

  it("covers pixels whose centre is exactly `radius` away (<=, not <)", () => {
    expect(paint(createLabelMap(5, 5), { class_index: 2, radius: 1, points: [[2.5, 2.5]] })).toEqual([
      ".....",
      "..2..",
      ".222.",
      "..2..",
      ".....",
    ]);
  });

  it("paints a segment as a capsule, with round caps past both ends", () => {
    // Rows 4 and 5 are 0.5 from y = 5. Columns 1 and 8 are caps: their centres are
    // (0.5, 0.5) from the end points, inside radius 1; columns 0 and 9 are 1.5 away.
    expect(paint(undefined, { class_index: 3, radius: 1, points: [[2, 5], [8, 5]] })).toEqual([
      "..........",
      "..........",
      "..........",
      "..........",
      ".33333333.",
      ".33333333.",
      "..........",
      "..........",
      "..........",
      "..........",
    ]);
  });

  it("erases with class 0", () => {
    const map = mapFromGrid(["1111111", "1111111", "1111111"]);
    rasterizeStroke(map, { class_index: 0, radius: 0.5, points: [[1.5, 1.5], [5.5, 1.5]] });
    expect(gridOf(map)).toEqual(["1111111", "1.....1", "1111111"]);
  });

  it("lets later strokes win where they overlap", () => {
    const first: Stroke = { class_index: 1, radius: 1, points: [[1, 1.5], [6, 1.5]] };
    const second: Stroke = { class_index: 2, radius: 1, points: [[4.5, 0], [4.5, 4]] };
    // first: rows 0 and 2 are exactly 1 from y = 1.5 (in, for columns 1..5), row 1 has caps.
    // second: columns 3 and 5 are exactly 1 from x = 4.5, rows 0..3.
    expect(paint(createLabelMap(7, 4), first, second)).toEqual([".11222.", "1112221", ".11222.", "...222."]);
    expect(paint(createLabelMap(7, 4), second, first)).toEqual([".11111.", "1111111", ".11111.", "...222."]);
  });

  it("clips at the image border and returns a patch of the clipped box only", () => {
    const map = createLabelMap(4, 4);
    const patch = rasterizeStroke(map, { class_index: 1, radius: 2, points: [[0, 0]] });
    // Bounds are -2..2 inclusive; clipped to 0..2. Only three centres are within 2 of the corner.
    expect(patch).toMatchObject({ x: 0, y: 0, width: 3, height: 3 });
    expect(gridOf(map)).toEqual(["11..", "1...", "....", "...."]);
  });

  it("returns null, and touches nothing, for a stroke wholly outside the image", () => {
    const map = createLabelMap(4, 4);
    expect(rasterizeStroke(map, { class_index: 1, radius: 1, points: [[-3, 1], [-3, 3]] })).toBeNull();
    expect(rasterizeStroke(map, { class_index: 1, radius: 1, points: [[2, 6]] })).toBeNull();
    expect(map.data.every((v) => v === 0)).toBe(true);
  });

  it("returns a patch whose before values undo the stroke", () => {
    const map = mapFromGrid(["2222", "2222", "2222", "2222"]);
    const patch = rasterizeStroke(map, { class_index: 1, radius: 1.5, points: [[2, 2]] });
    expect(patch).toMatchObject({ x: 0, y: 0, width: 4, height: 4 });
    expect(gridOf(map)).toEqual(["2222", "2112", "2112", "2222"]);
    applyPatch(map, patch!);
    expect(gridOf(map)).toEqual(["2222", "2222", "2222", "2222"]);
  });

  it("matches the server's rasteriser pixel for pixel", () => {
    // Expected output of labeling.labelmaps.rasterize_strokes (numpy) for these strokes:
    // fractional points, rims at exactly sqrt(2), several segments, overlaps and an erase.
    const strokes: Stroke[] = [
      { class_index: 1, radius: 2.3, points: [[1.2, 1.7], [9.8, 4.1], [14.25, 2.0]] },
      { class_index: 2, radius: Math.SQRT2, points: [[3.5, 9.5]] },
      { class_index: 3, radius: Math.SQRT1_2, points: [[6.0, 13.0], [20.0, 9.0]] },
      { class_index: 2, radius: 3.75, points: [[22.9, 14.6], [17.3, 12.2]] },
      { class_index: 0, radius: 1.0, points: [[5.0, 0.0], [5.0, 6.0], [11.5, 3.5]] },
    ];
    expect(paint(createLabelMap(24, 16), ...strokes)).toEqual([
      "1111........1111........",
      "1111..111.111111........",
      "1111..11111.1111........",
      "1111..111....111........",
      "...1........11..........",
      ".........111............",
      "........................",
      "........................",
      "..222............2.33...",
      "..222..........222222...",
      "..222.......33222222222.",
      ".........333332222222222",
      ".....33333....2222222222",
      ".....33.......2222222222",
      "..............2222222222",
      "................22222222",
    ]);
  });

  it.each([
    ["no points", { class_index: 1, radius: 1, points: [] }],
    ["a radius below 0.5", { class_index: 1, radius: 0.4, points: [[1, 1]] }],
    ["a radius above 512", { class_index: 1, radius: 513, points: [[1, 1]] }],
    ["a NaN radius", { class_index: 1, radius: NaN, points: [[1, 1]] }],
    ["a class index over 255", { class_index: 256, radius: 1, points: [[1, 1]] }],
    ["a fractional class index", { class_index: 1.5, radius: 1, points: [[1, 1]] }],
  ] satisfies [string, Stroke][])("rejects %s, as the server would", (_, stroke) => {
    expect(() => rasterizeStroke(createLabelMap(4, 4), stroke)).toThrow(RangeError);
  });
});

describe("strokeBounds", () => {
  it("spans floor(min - r) to ceil(max + r) inclusive over all points, unclipped", () => {
    const stroke: Stroke = { class_index: 1, radius: 1.5, points: [[2.2, 7], [-0.4, 3.9], [5, 4]] };
    // x: floor(-0.4 - 1.5) = -2 .. ceil(5 + 1.5) = 7; y: floor(3.9 - 1.5) = 2 .. ceil(7 + 1.5) = 9.
    expect(strokeBounds(stroke)).toEqual({ x: -2, y: 2, width: 10, height: 8 });
  });

  it("spans an extra pixel when an edge lands on a whole number, as the server does", () => {
    expect(strokeBounds({ class_index: 1, radius: 1, points: [[5, 5]] })).toEqual({ x: 4, y: 4, width: 3, height: 3 });
  });
});
