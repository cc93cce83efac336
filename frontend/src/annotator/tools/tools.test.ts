import { describe, expect, it } from "vitest";
import type { PaintedKind, Stroke } from "../../api/annotations";
import { floodFill } from "../../painter/fill";
import type { LabelMap } from "../../painter/labelmap";
import { rasterizeStroke } from "../../painter/raster";
import { gridOf, mapFromGrid } from "../../painter/test-grid";
import { Settings } from "../settings";
import { extendStroke, MAX_POINTS, strokePoint } from "./brush";
import { createTools } from "./index";
import type { ToolContext } from "./tool";

/** The tools on 8x4 maps: what they ask the page to do is done to the maps, and recorded. */
function bench(settings = new Settings(2)) {
  const maps: Record<PaintedKind, LabelMap> = { scribble: mapFromGrid(["........", "........", "........", "........"]), dense: mapFromGrid(["........", ".1111...", ".1..1...", ".1111..."]) };
  const log: string[] = [];
  const view = { x: 0, y: 0 };
  const context: ToolContext = {
    settings,
    imageWidth: 8,
    imageHeight: 4,
    paint: (layer, stroke: Stroke) => {
      log.push(`paint ${layer} ${stroke.class_index} (${stroke.points.length} points)`);
      rasterizeStroke(maps[layer], stroke);
    },
    fill: (layer, col, row, value) => {
      log.push(`fill ${layer} ${col},${row} ${value}`);
      floodFill(maps[layer], col, row, value);
    },
    panBy: (dx, dy) => {
      view.x += dx;
      view.y += dy;
    },
    pin: (x, y) => log.push(`pin ${x},${y}`),
    refuse: (reason) => log.push(`refused: ${reason}`),
    redraw: () => {},
    inkOf: () => ({ color: "red", alpha: 1 }),
    clickTile: (x, y) => log.push(`tile ${x},${y}`),
    tileGrid: () => ({ size: 4, tiles: [], current: null }),
  };
  return { tools: createTools(context), maps, log, view, settings };
}

const at = (x: number, y: number) => ({ image: { x, y }, screen: { x: x * 10, y: y * 10 } });

describe("the brush", () => {
  it("paints the chosen class along the drag on the chosen layer, once, when released", () => {
    const { tools, maps, log, settings } = bench();
    settings.setRadius(0.5);
    expect(tools.brush.pointerDown(at(0.5, 1.5))).toBe(true);
    for (const x of [1.5, 2.5, 3.5, 4.5]) tools.brush.pointerMove(at(x, 1.5));
    expect(log).toEqual([]); // nothing painted while the stroke is drawn
    tools.brush.pointerUp(at(4.5, 1.5));
    expect(log).toEqual(["paint scribble 2 (5 points)"]);
    expect(gridOf(maps.scribble)).toEqual(["........", "22222...", "........", "........"]);
  });

  it("finishes its stroke when another tool is chosen, and drops it when cancelled", () => {
    const { tools, log } = bench();
    tools.brush.pointerDown(at(1, 1));
    tools.brush.deactivate();
    tools.brush.pointerDown(at(2, 2));
    tools.brush.cancel();
    tools.brush.pointerUp(at(2, 2));
    expect(log).toEqual(["paint scribble 2 (1 points)"]);
  });
});

describe("the eraser", () => {
  it("paints 0 on the chosen layer", () => {
    const { tools, maps, settings } = bench();
    settings.setTarget("dense");
    settings.setRadius(0.5);
    tools.eraser.pointerDown(at(1.5, 1.5));
    tools.eraser.pointerMove(at(4.5, 1.5));
    tools.eraser.pointerUp(at(4.5, 1.5));
    expect(gridOf(maps.dense)).toEqual(["........", "........", ".1..1...", ".1111..."]);
  });
});

describe("the fill tool", () => {
  it("floods the region under the click on the dense mask", () => {
    const { tools, maps, settings, log } = bench();
    settings.setTarget("dense");
    expect(tools.fill.pointerDown(at(2.7, 2.2))).toBe(false); // a click, not a drag
    expect(log).toEqual(["fill dense 2,2 2"]);
    expect(gridOf(maps.dense)).toEqual(["........", ".1111...", ".1221...", ".1111..."]);
  });

  it("refuses the scribble layer, and does nothing outside the image", () => {
    const { tools, settings, log } = bench();
    tools.fill.pointerDown(at(2, 2));
    settings.setTarget("dense");
    tools.fill.pointerDown(at(-1, 2));
    tools.fill.pointerDown(at(8, 0));
    expect(log).toEqual(["refused: The fill tool paints the dense mask: switch the layer to “dense mask” first."]);
  });
});

describe("the pan tool", () => {
  it("moves the view by what the pointer moved on screen", () => {
    const { tools, view } = bench();
    tools.pan.pointerDown(at(1, 1));
    tools.pan.pointerMove(at(2, 1));
    tools.pan.pointerMove(at(2, 3));
    tools.pan.pointerUp(at(2, 3));
    tools.pan.pointerMove(at(5, 5)); // released: no longer dragging
    expect(view).toEqual({ x: 10, y: 20 });
  });
});

describe("the pin tool", () => {
  it("pins a comment where it is clicked, in tenths of a pixel, painting nothing", () => {
    const { tools, maps, log } = bench();
    expect(tools.pin.pointerDown(at(3.14159, 2.5))).toBe(false);
    expect(log).toEqual(["pin 3.1,2.5"]);
    expect(gridOf(maps.scribble)).toEqual(["........", "........", "........", "........"]);
    expect([tools.pin.paints, tools.brush.paints, tools.fill.paints, tools.pan.paints]).toEqual([false, true, true, false]);
  });

  it("refuses a click beside the image", () => {
    const { tools, log } = bench();
    tools.pin.pointerDown(at(8, 1));
    expect(log).toEqual(["refused: Pin a comment on the image itself."]);
  });
});

describe("stroke points", () => {
  it("stay within a radius of the image, rounded to hundredths", () => {
    expect(strokePoint({ x: -9, y: 3.14159 }, 2, 8, 4)).toEqual([-2, 3.14]);
    expect(strokePoint({ x: 20, y: 9 }, 2, 8, 4)).toEqual([10, 6]);
  });

  it("are kept a third of the radius apart (half a pixel at least), up to the server's limit", () => {
    const stroke = { class_index: 1, radius: 3, points: [[0, 0]] as [number, number][] };
    expect(extendStroke(stroke, { x: 0.9, y: 0 }, 100, 100)).toBe(false);
    expect(extendStroke(stroke, { x: 1, y: 0 }, 100, 100)).toBe(true);
    stroke.points = Array.from({ length: MAX_POINTS }, () => [0, 0] as [number, number]);
    expect(extendStroke(stroke, { x: 50, y: 0 }, 100, 100)).toBe(false);
  });
});

describe("settings", () => {
  it("keep the brush within the server's limits in half pixels, and leave the eraser for a chosen class", () => {
    const settings = new Settings(1);
    settings.setRadius(0.1);
    expect(settings.radius).toBe(0.5);
    settings.setRadius(2.3);
    expect(settings.radius).toBe(2.5);
    settings.setRadius(10_000);
    expect(settings.radius).toBe(512);
    settings.setTool("eraser");
    settings.setClass(3);
    expect([settings.tool, settings.classIndex]).toEqual(["brush", 3]);
  });
});

describe("the tile tool", () => {
  it("hands a click on the image to the tile grid and refuses one beside it", () => {
    const { tools, log } = bench();
    expect(tools.tiles.pointerDown(at(5.5, 1))).toBe(false); // no drag
    tools.tiles.pointerDown(at(9, 1));
    expect(log).toEqual(["tile 5.5,1", "refused: Click a tile of the image."]);
    expect(tools.tiles.paints).toBe(true); // refused to viewers and on images under review
  });
});
