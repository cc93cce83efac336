import { describe, expect, it } from "vitest";
import { objectCount, objectOutlines } from "./outlines";
import { gridOf, mapFromGrid } from "./test-grid";

describe("objectOutlines", () => {
  it("outlines a square and leaves its inside and the background alone", () => {
    const map = mapFromGrid(["......", ".1111.", ".1111.", ".1111.", ".1111.", "......"]);
    const outlines = objectOutlines(map.data, map.width, map.height);
    expect(gridOf({ ...map, data: outlines })).toEqual(["......", ".1111.", ".1..1.", ".1..1.", ".1111.", "......"]);
  });

  it("gives two touching objects an outline each along the line they share", () => {
    const map = mapFromGrid([".......", ".11222.", ".11222.", ".11222.", "......."]);
    const outlines = objectOutlines(map.data, map.width, map.height);
    expect(gridOf({ ...map, data: outlines })).toEqual([".......", ".11111.", ".111.1.", ".11111.", "......."]);
  });

  it("closes an object cut by the image's edge", () => {
    const map = mapFromGrid(["111", "111", "111"]);
    expect(gridOf({ ...map, data: objectOutlines(map.data, 3, 3) })).toEqual(["111", "1.1", "111"]);
  });

  it("reads labels past 255 (16-bit instance maps)", () => {
    const instances = new Uint16Array([300, 300, 301, 301]);
    expect([...objectOutlines(instances, 4, 1)]).toEqual([1, 1, 1, 1]);
    expect(objectCount(instances)).toBe(2);
  });

  it("refuses a map of the wrong size", () => {
    expect(() => objectOutlines(new Uint16Array(5), 2, 2)).toThrow("expected 4 values");
  });
});
