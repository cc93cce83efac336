import { describe, expect, it } from "vitest";
import { floodFill } from "./fill";
import { applyPatch, createLabelMap } from "./labelmap";
import { gridOf, mapFromGrid } from "./test-grid";

describe("floodFill", () => {
  it("fills inside an enclosed ring and stops at the ring", () => {
    const map = mapFromGrid([
      ".......",
      ".11111.",
      ".1...1.",
      ".1...1.",
      ".11111.",
      ".......",
    ]);
    floodFill(map, 3, 2, 2);
    expect(gridOf(map)).toEqual([
      ".......",
      ".11111.",
      ".12221.",
      ".12221.",
      ".11111.",
      ".......",
    ]);
  });

  it("is 4-connected: a diagonal gap does not let the fill through", () => {
    const map = mapFromGrid([
      "..1..",
      ".1.1.",
      "1...1",
      ".1.1.",
      "..1..",
    ]);
    floodFill(map, 2, 2, 3);
    expect(gridOf(map)).toEqual([
      "..1..",
      ".131.",
      "13331",
      ".131.",
      "..1..",
    ]);
  });

  it("follows a region that winds back on itself, and leaves the outside alone", () => {
    // The inside is one corridor: down the left, along the top, down the right, then back up
    // through the middle, so spans must be found above and below the ones already filled.
    const map = mapFromGrid([
      "...........",
      ".111111111.",
      ".1.......1.",
      ".1.11111.1.",
      ".1.1...1.1.",
      ".1.1.1.1.1.",
      ".1...1...1.",
      ".111111111.",
      "...........",
    ]);
    floodFill(map, 5, 4, 2);
    expect(gridOf(map)).toEqual([
      "...........",
      ".111111111.",
      ".122222221.",
      ".121111121.",
      ".121222121.",
      ".121212121.",
      ".122212221.",
      ".111111111.",
      "...........",
    ]);
  });

  it("returns the changed pixels' bounding box, whose undo keeps pixels that already had the value", () => {
    const map = mapFromGrid([
      "22222",
      "2...2",
      "2.2.2",
      "2...2",
      "22222",
    ]);
    const patch = floodFill(map, 1, 1, 2)!;
    expect(patch).toMatchObject({ x: 1, y: 1, width: 3, height: 3 });
    expect(gridOf(map)).toEqual(["22222", "22222", "22222", "22222", "22222"]);
    applyPatch(map, patch);
    expect(gridOf(map)).toEqual(["22222", "2...2", "2.2.2", "2...2", "22222"]);
  });

  it("is a no-op returning null when the seed already holds the value", () => {
    const map = mapFromGrid(["11.", "1.."]);
    expect(floodFill(map, 0, 0, 1)).toBeNull();
    expect(gridOf(map)).toEqual(["11.", "1.."]);
  });

  it("returns null for a seed outside the map", () => {
    const map = createLabelMap(3, 3);
    expect(floodFill(map, 3, 0, 1)).toBeNull();
    expect(floodFill(map, 0, -1, 1)).toBeNull();
    expect(map.data.every((v) => v === 0)).toBe(true);
  });

  it("rejects a fractional seed and a value a byte cannot hold", () => {
    const map = createLabelMap(3, 3);
    expect(() => floodFill(map, 0.5, 0, 1)).toThrow(RangeError);
    expect(() => floodFill(map, 0, 0, 256)).toThrow(RangeError);
  });

  it("fills an 8192 x 8192 map without overflowing the stack", () => {
    const size = 8192;
    const map = createLabelMap(size, size);
    // A comb: every other row is a wall open at alternating ends, so the region is one long
    // serpentine path that recursion would follow thousands of levels deep.
    for (let row = 1; row < size; row += 2) {
      const gap = (row >> 1) % 2 === 0 ? size - 1 : 0;
      map.data.fill(1, row * size, (row + 1) * size);
      map.data[row * size + gap] = 0;
    }
    const patch = floodFill(map, 0, 0, 2)!;
    expect(patch).toMatchObject({ x: 0, y: 0, width: size, height: size });
    expect(map.data.includes(0)).toBe(false);
  }, 30_000); // 64 M pixels: about 5 s on a busy shared machine, past vitest's 5 s default
});
