import { describe, expect, it } from "vitest";
import { applyPatch, assertStorable, capturePatch, clipToMap, createLabelMap } from "./labelmap";
import { gridOf, mapFromGrid } from "./test-grid";

describe("createLabelMap", () => {
  it("is all unlabelled, one byte per pixel", () => {
    const map = createLabelMap(3, 2);
    expect(map).toMatchObject({ width: 3, height: 2 });
    expect(Array.from(map.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe("clipToMap", () => {
  const map = createLabelMap(10, 8);

  it("widens fractional edges to whole pixels and clips to the map", () => {
    expect(clipToMap(map, { x: -2.5, y: 1.2, width: 5, height: 20 })).toEqual({ x: 0, y: 1, width: 3, height: 7 });
  });

  it("is null when nothing of the rect lies on the map", () => {
    expect(clipToMap(map, { x: 10, y: 0, width: 3, height: 3 })).toBeNull();
    expect(clipToMap(map, { x: -4, y: 2, width: 4, height: 3 })).toBeNull();
  });
});

describe("capturePatch and applyPatch", () => {
  it("capture copies the rectangle row by row", () => {
    const map = mapFromGrid(["1234", "5678", "9123"]);
    const patch = capturePatch(map, { x: 1, y: 1, width: 2, height: 2 });
    expect(Array.from(patch.before)).toEqual([6, 7, 1, 2]);
    map.data.fill(0);
    expect(Array.from(patch.before)).toEqual([6, 7, 1, 2]); // a copy, not a view
  });

  it("apply restores the rectangle, leaves the rest alone, and returns the inverse", () => {
    const map = mapFromGrid(["1111", "1111", "1111"]);
    const patch = capturePatch(map, { x: 1, y: 0, width: 2, height: 2 });
    map.data.fill(5);
    const inverse = applyPatch(map, patch);
    expect(gridOf(map)).toEqual(["5115", "5115", "5555"]);
    applyPatch(map, inverse);
    expect(gridOf(map)).toEqual(["5555", "5555", "5555"]);
  });
});

describe("assertStorable", () => {
  it("accepts 0..255 and rejects what a Uint8Array would wrap or truncate", () => {
    expect(() => assertStorable(0)).not.toThrow();
    expect(() => assertStorable(255)).not.toThrow();
    for (const bad of [-1, 256, 2.5, NaN]) expect(() => assertStorable(bad)).toThrow(RangeError);
  });
});
