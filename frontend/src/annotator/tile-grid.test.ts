import { describe, expect, it } from "vitest";
import type { TileTag } from "../api/annotations";
import { keyAction, type KeyPress } from "./keys";
import { nextState, replay, stepTile, tileAt, tileKey, tileState, withTile } from "./tile-grid";

// A 300x200 image: 256-px tiles make a 2x1 grid whose right column is 44 px wide.
const W = 300;
const H = 200;

describe("the tile grid", () => {
  it("finds the tile under a point, cut short at the image's edge", () => {
    expect(tileAt(10, 10, 256, W, H)).toEqual({ x: 0, y: 0, width: 256, height: 200 });
    expect(tileAt(299.5, 199, 256, W, H)).toEqual({ x: 256, y: 0, width: 44, height: 200 });
    expect(tileAt(130, 130, 128, W, H)).toEqual({ x: 128, y: 128, width: 128, height: 72 });
    expect(tileAt(300, 10, 256, W, H)).toBeNull();
    expect(tileAt(-1, 10, 256, W, H)).toBeNull();
  });

  it("moves the current tile by whole tiles and stops at the image's edges", () => {
    const first = tileAt(0, 0, 128, W, H)!;
    expect(stepTile(first, 1, 0, 128, W, H)).toEqual({ x: 128, y: 0, width: 128, height: 128 });
    expect(stepTile(first, 5, 5, 128, W, H)).toEqual({ x: 256, y: 128, width: 44, height: 72 });
    expect(stepTile(first, -1, -1, 128, W, H)).toEqual(first);
    // A tile of another size moves on the grid of the chosen size, from where it starts.
    expect(stepTile({ x: 256, y: 0, width: 44, height: 200 }, 0, 1, 128, W, H)).toEqual({ x: 256, y: 128, width: 44, height: 72 });
  });

  it("tags, re-tags and clears a tile, and a tile of another size gives way", () => {
    const small = tileAt(0, 0, 128, W, H)!;
    const large = tileAt(0, 0, 256, W, H)!;
    let tiles: TileTag[] = withTile([], small, true);
    expect(tiles).toEqual([[0, 0, 128, 128, true]]);
    expect(tileState(tiles, small)).toBe(true);
    expect(tileState(tiles, large)).toBeNull(); // only exactly this tile counts
    tiles = withTile(tiles, small, false);
    expect(tiles).toEqual([[0, 0, 128, 128, false]]);
    tiles = withTile([...tiles, [256, 0, 44, 200, true]], large, true);
    expect(tiles).toEqual([[256, 0, 44, 200, true], [0, 0, 256, 200, true]]);
    expect(withTile(tiles, large, null)).toEqual([[256, 0, 44, 200, true]]);
  });

  it("steps a clicked tile from none to present to absent and back", () => {
    expect([nextState(null), nextState(true), nextState(false)]).toEqual([true, false, null]);
  });

  it("merges a colleague's saved tiles with this person's unsaved changes, in order", () => {
    const theirs: TileTag[] = [[0, 0, 128, 128, true], [128, 0, 128, 128, false]];
    const mine = [
      { tile: { x: 128, y: 0, width: 128, height: 128 }, state: true },
      { tile: { x: 0, y: 128, width: 128, height: 72 }, state: false },
      { tile: { x: 0, y: 0, width: 128, height: 128 }, state: null },
    ];
    expect(replay(theirs, mine)).toEqual([[128, 0, 128, 128, true], [0, 128, 128, 72, false]]);
    expect(theirs).toHaveLength(2); // theirs is left as it was
  });
});

const press = (key: string, modifiers: Partial<KeyPress> = {}): KeyPress => ({ key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...modifiers });

describe("the tile tool's keys", () => {
  it("tag with P and A, clear with 0 or Delete, move with the arrows", () => {
    expect(tileKey("p")).toEqual({ type: "set", state: true });
    expect(tileKey("A")).toEqual({ type: "set", state: false });
    expect(tileKey("0")).toEqual({ type: "set", state: null });
    expect(tileKey("Delete")).toEqual({ type: "set", state: null });
    expect(tileKey("ArrowLeft")).toEqual({ type: "move", dx: -1, dy: 0 });
    expect(tileKey("ArrowDown")).toEqual({ type: "move", dx: 0, dy: 1 });
    expect(tileKey("x")).toBeNull();
  });

  it("come first only while the tile tool is chosen; L chooses it", () => {
    expect(keyAction(press("l"))).toEqual({ type: "tool", tool: "tiles" });
    expect(keyAction(press("p"), true)).toEqual({ type: "tile", key: { type: "set", state: true } });
    expect(keyAction(press("p"))).toEqual({ type: "overlay", name: "prediction" });
    expect(keyAction(press("a"))).toEqual({ type: "oneToOne" });
    expect(keyAction(press("b"), true)).toEqual({ type: "tool", tool: "brush" }); // other keys still work
    expect(keyAction(press("z", { ctrlKey: true }), true)).toEqual({ type: "undo" });
  });
});
