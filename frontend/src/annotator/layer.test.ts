import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { gridOf } from "../painter/test-grid";
import { EditableLayer, ME } from "./layer";

// The layer's undo on its own: edits are not saved here (the autosave timer never fires).
describe("EditableLayer undo", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const layer = (undoLimit?: number) => new EditableLayer(1, "scribble", "me", 6, 3, 400, undoLimit);
  const dot = (x: number, classIndex = 1) => ({ class_index: classIndex, radius: 0.5, points: [[x + 0.5, 1.5]] as [number, number][] });

  it("takes one stroke back per undo, and gives it again on redo", () => {
    const scribbles = layer();
    scribbles.paint({ class_index: 2, radius: 0.5, points: [[0.5, 1.5], [3.5, 1.5]] });
    scribbles.paint(dot(5));
    expect(gridOf(scribbles.map)).toEqual(["......", "2222.1", "......"]);
    expect(scribbles.undo()).toBe(true);
    expect(gridOf(scribbles.map)).toEqual(["......", "2222..", "......"]);
    expect(scribbles.undo()).toBe(true);
    expect(gridOf(scribbles.map)).toEqual(["......", "......", "......"]);
    expect(scribbles.undo()).toBe(false);
    expect(scribbles.redo()).toBe(true);
    expect(gridOf(scribbles.map)).toEqual(["......", "2222..", "......"]);
    expect(scribbles.owners[1 * 6 + 0]).toBe(ME);
  });

  it("forgets the oldest edits beyond its limit", () => {
    const scribbles = layer(2);
    for (const x of [0, 1, 2]) scribbles.paint(dot(x));
    expect(scribbles.undo()).toBe(true);
    expect(scribbles.undo()).toBe(true);
    expect(scribbles.undo()).toBe(false);
    expect(gridOf(scribbles.map)).toEqual(["......", "1.....", "......"]);
  });

  it("keeps every edit for the server, undone or not", () => {
    const scribbles = layer(1);
    scribbles.paint(dot(0));
    scribbles.paint(dot(1));
    scribbles.undo();
    expect(scribbles.hasUnsaved).toBe(true);
    expect(scribbles.state).toBe("unsaved");
  });
});
