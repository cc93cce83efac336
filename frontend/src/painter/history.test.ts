import { describe, expect, it } from "vitest";
import { History } from "./history";
import { applyPatch, createLabelMap, type Patch } from "./labelmap";
import { rasterizeStroke } from "./raster";

describe("History", () => {
  it("undoes newest first and redoes in the order undone", () => {
    const history = new History<string>();
    history.push("a");
    history.push("b");
    history.push("c");
    expect(history.undo()).toBe("c");
    expect(history.undo()).toBe("b");
    expect(history.redo()).toBe("b");
    expect(history.undo()).toBe("b");
    expect(history.undo()).toBe("a");
    expect(history.undo()).toBeUndefined();
    expect(history.redo()).toBe("a");
    expect(history.redo()).toBe("b");
    expect(history.redo()).toBe("c");
    expect(history.redo()).toBeUndefined();
  });

  it("reports whether there is anything to undo or redo", () => {
    const history = new History<number>();
    expect([history.canUndo, history.canRedo]).toEqual([false, false]);
    history.push(1);
    expect([history.canUndo, history.canRedo]).toEqual([true, false]);
    history.undo();
    expect([history.canUndo, history.canRedo]).toEqual([false, true]);
  });

  it("forgets what was undone when a new edit is pushed", () => {
    const history = new History<string>();
    history.push("a");
    history.push("b");
    history.undo();
    history.push("c");
    expect(history.canRedo).toBe(false);
    expect(history.redo()).toBeUndefined();
    expect(history.undo()).toBe("c");
    expect(history.undo()).toBe("a");
  });

  it("drops the oldest edits beyond its capacity", () => {
    const history = new History<number>(3);
    for (let i = 1; i <= 5; i++) history.push(i);
    expect([history.undo(), history.undo(), history.undo(), history.undo()]).toEqual([5, 4, 3, undefined]);
    expect([history.redo(), history.redo(), history.redo(), history.redo()]).toEqual([3, 4, 5, undefined]);
  });

  it("rejects a capacity that could hold nothing", () => {
    expect(() => new History(0)).toThrow(RangeError);
    expect(() => new History(2.5)).toThrow(RangeError);
  });

  it("clears both directions", () => {
    const history = new History<number>();
    history.push(1);
    history.push(2);
    history.undo();
    history.clear();
    expect([history.canUndo, history.canRedo]).toEqual([false, false]);
  });

  it("stores what `reverse` returns for the other direction, so patches undo and redo", () => {
    const map = createLabelMap(6, 6);
    const history = new History<Patch>();
    const apply = (patch: Patch) => applyPatch(map, patch);
    history.push(rasterizeStroke(map, { class_index: 1, radius: 1, points: [[1, 1], [5, 5]] })!);
    history.push(rasterizeStroke(map, { class_index: 2, radius: 1.5, points: [[3, 3]] })!);
    const painted = Array.from(map.data);

    history.undo(apply);
    history.undo(apply);
    expect(map.data.every((v) => v === 0)).toBe(true);
    history.redo(apply);
    history.redo(apply);
    expect(Array.from(map.data)).toEqual(painted);
  });
});
