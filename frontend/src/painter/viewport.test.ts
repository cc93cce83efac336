import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS,
  IDENTITY,
  clampScale,
  fit,
  imageToScreen,
  oneToOne,
  panBy,
  pyramidLevel,
  screenToImage,
  tilesFor,
  visibleImageRect,
  zoomAt,
  type Viewport,
} from "./viewport";

const PRECISION = 9; // toBeCloseTo(x, 9): within 5e-10

function expectPointClose(actual: { x: number; y: number }, expected: { x: number; y: number }): void {
  expect(actual.x).toBeCloseTo(expected.x, PRECISION);
  expect(actual.y).toBeCloseTo(expected.y, PRECISION);
}

describe("coordinate mapping", () => {
  const view: Viewport = { scale: 2.5, offsetX: -40, offsetY: 13 };

  it("maps image to screen as image * scale + offset", () => {
    expect(imageToScreen(view, { x: 10, y: 4 })).toEqual({ x: -15, y: 23 });
    expect(screenToImage(view, { x: -15, y: 23 })).toEqual({ x: 10, y: 4 });
  });

  it("round-trips screen -> image -> screen after any zooms and pans", () => {
    let v: Viewport = IDENTITY;
    const moves: ((v: Viewport) => Viewport)[] = [
      (v) => zoomAt(v, { x: 100, y: 50 }, 1.7),
      (v) => panBy(v, -33.3, 12.25),
      (v) => zoomAt(v, { x: 7, y: 300 }, 0.31),
      (v) => panBy(v, 1000, -0.001),
      (v) => zoomAt(v, { x: 640, y: 480 }, 9),
    ];
    for (const move of moves) {
      v = move(v);
      for (const p of [{ x: 0, y: 0 }, { x: 123.4, y: 567.8 }, { x: -50, y: 2000 }]) {
        expectPointClose(imageToScreen(v, screenToImage(v, p)), p);
        expectPointClose(screenToImage(v, imageToScreen(v, p)), p);
      }
    }
  });
});

describe("zoomAt", () => {
  it("keeps the image point under the cursor fixed", () => {
    const view: Viewport = { scale: 0.75, offsetX: 31, offsetY: -12 };
    for (const cursor of [{ x: 0, y: 0 }, { x: 412.5, y: 233.25 }, { x: 1919, y: 1079 }]) {
      for (const factor of [1.1, 1 / 1.1, 4, 0.25]) {
        const before = screenToImage(view, cursor);
        const zoomed = zoomAt(view, cursor, factor);
        expect(zoomed.scale).toBeCloseTo(0.75 * factor, 12);
        expectPointClose(screenToImage(zoomed, cursor), before);
      }
    }
  });

  it("clamps the scale, still keeping the cursor's image point fixed", () => {
    const cursor = { x: 300, y: 200 };
    const view: Viewport = { scale: 32, offsetX: 5, offsetY: 6 };
    const inward = zoomAt(view, cursor, 10);
    expect(inward.scale).toBe(DEFAULT_LIMITS.max);
    expectPointClose(screenToImage(inward, cursor), screenToImage(view, cursor));
    expect(zoomAt(view, cursor, 1e-9).scale).toBe(DEFAULT_LIMITS.min);
    expect(zoomAt(view, cursor, 3, { min: 0.5, max: 40 }).scale).toBe(40);
  });
});

describe("clampScale", () => {
  it("limits to 1/64 .. 64 by default", () => {
    expect(clampScale(1000)).toBe(64);
    expect(clampScale(0.001)).toBe(1 / 64);
    expect(clampScale(3)).toBe(3);
  });
});

describe("panBy", () => {
  it("moves the image by screen pixels, at any scale", () => {
    const view: Viewport = { scale: 4, offsetX: 10, offsetY: 20 };
    const panned = panBy(view, -5, 7);
    expect(panned).toEqual({ scale: 4, offsetX: 5, offsetY: 27 });
    expect(imageToScreen(panned, { x: 3, y: 3 })).toEqual({ x: 17, y: 39 });
  });
});

describe("fit", () => {
  it("shows the whole image at the largest scale, centred on the narrow axis", () => {
    const view = fit(8192, 4096, 1000, 800);
    expect(view.scale).toBe(1000 / 8192);
    expectPointClose(imageToScreen(view, { x: 0, y: 0 }), { x: 0, y: 150 });
    expectPointClose(imageToScreen(view, { x: 8192, y: 4096 }), { x: 1000, y: 650 });
  });

  it("scales small images up, up to the limit", () => {
    expect(fit(10, 10, 1000, 500).scale).toBe(50);
    expect(fit(10, 10, 1000, 500, { min: 1 / 64, max: 8 }).scale).toBe(8);
  });
});

describe("oneToOne", () => {
  it("sets scale 1 and keeps the image point at the view centre there", () => {
    const view: Viewport = { scale: 0.2, offsetX: 17, offsetY: -90 };
    const centre = { x: 400, y: 300 };
    const actual = oneToOne(view, 800, 600);
    expect(actual.scale).toBe(1);
    expectPointClose(screenToImage(actual, centre), screenToImage(view, centre));
  });
});

describe("visibleImageRect", () => {
  it("is the image-space rectangle under the view", () => {
    const view: Viewport = { scale: 0.5, offsetX: 100, offsetY: -50 };
    expect(visibleImageRect(view, 800, 600)).toEqual({ x: -200, y: 100, width: 1600, height: 1200 });
  });

  it("maps back onto the view's corners", () => {
    const view = zoomAt(fit(8192, 8192, 1280, 720), { x: 500, y: 200 }, 37);
    const rect = visibleImageRect(view, 1280, 720);
    expectPointClose(imageToScreen(view, rect), { x: 0, y: 0 });
    expectPointClose(imageToScreen(view, { x: rect.x + rect.width, y: rect.y + rect.height }), { x: 1280, y: 720 });
  });
});

describe("pyramidLevel", () => {
  it("picks the coarsest level whose pixels are no larger than a screen pixel", () => {
    expect(pyramidLevel(4, 6)).toBe(0);
    expect(pyramidLevel(1, 6)).toBe(0);
    expect(pyramidLevel(0.6, 6)).toBe(0);
    expect(pyramidLevel(0.5, 6)).toBe(1);
    expect(pyramidLevel(0.3, 6)).toBe(1);
    expect(pyramidLevel(0.25, 6)).toBe(2);
    expect(pyramidLevel(1 / 64, 6)).toBe(5); // only levels 0..5 exist
  });
});

describe("tilesFor", () => {
  it("lists the level-0 tiles a rect overlaps, row by row, clipped to the image", () => {
    const tiles = tilesFor({ x: 500, y: 100, width: 600, height: 10 }, 1100, 300, 512, 0);
    expect(tiles).toEqual([
      { level: 0, col: 0, row: 0, key: "0/0/0", x: 0, y: 0, width: 512, height: 300 },
      { level: 0, col: 1, row: 0, key: "0/1/0", x: 512, y: 0, width: 512, height: 300 },
      { level: 0, col: 2, row: 0, key: "0/2/0", x: 1024, y: 0, width: 76, height: 300 },
    ]);
  });

  it("makes tiles of level L cover tileSize * 2^L image pixels", () => {
    const keys = tilesFor({ x: 0, y: 0, width: 8192, height: 8192 }, 8192, 8192, 512, 2).map((t) => t.key);
    expect(keys).toHaveLength(16);
    expect(keys.slice(0, 5)).toEqual(["2/0/0", "2/1/0", "2/2/0", "2/3/0", "2/0/1"]);
    expect(tilesFor({ x: 2047, y: 2048, width: 2, height: 1 }, 8192, 8192, 512, 2).map((t) => t.key)).toEqual([
      "2/0/1",
      "2/1/1",
    ]);
  });

  it("leaves out tiles that only touch the rect's edge, and everything off the image", () => {
    expect(tilesFor({ x: 512, y: 0, width: 512, height: 512 }, 2048, 2048, 512, 0).map((t) => t.key)).toEqual(["0/1/0"]);
    expect(tilesFor({ x: -300, y: -300, width: 300, height: 300 }, 2048, 2048, 512, 0)).toEqual([]);
    expect(tilesFor({ x: 2048, y: 0, width: 10, height: 10 }, 2048, 2048, 512, 0)).toEqual([]);
  });

  it("selects only what an 8192 x 8192 view zoomed in actually shows", () => {
    const view = zoomAt(fit(8192, 8192, 1280, 720), { x: 640, y: 360 }, 16);
    const rect = visibleImageRect(view, 1280, 720);
    const tiles = tilesFor(rect, 8192, 8192, 256, pyramidLevel(view.scale, 6));
    expect(tiles.length).toBeGreaterThan(0);
    expect(tiles.length).toBeLessThanOrEqual(12);
    for (const tile of tiles) {
      expect(tile.x < rect.x + rect.width && tile.x + tile.width > rect.x).toBe(true);
      expect(tile.y < rect.y + rect.height && tile.y + tile.height > rect.y).toBe(true);
    }
  });

  it("rejects a tile size or level that is not a whole number", () => {
    const rect = { x: 0, y: 0, width: 10, height: 10 };
    expect(() => tilesFor(rect, 10, 10, 0, 0)).toThrow(RangeError);
    expect(() => tilesFor(rect, 10, 10, 256, -1)).toThrow(RangeError);
    expect(() => tilesFor(rect, 10, 10, 256, 0.5)).toThrow(RangeError);
  });
});
