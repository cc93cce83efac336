import { describe, expect, it } from "vitest";
import { keyAction, type KeyPress } from "./keys";

const press = (key: string, modifiers: Partial<KeyPress> = {}): KeyPress => ({ key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...modifiers });

describe("the keymap", () => {
  it("undoes with Ctrl (or Cmd) + Z and redoes with Shift or Y", () => {
    expect(keyAction(press("z", { ctrlKey: true }))).toEqual({ type: "undo" });
    expect(keyAction(press("Z", { metaKey: true, shiftKey: true }))).toEqual({ type: "redo" });
    expect(keyAction(press("y", { ctrlKey: true }))).toEqual({ type: "redo" });
    expect(keyAction(press("b", { ctrlKey: true }))).toBeNull(); // the browser's own shortcuts stay
  });

  it("picks tools, brush sizes, zoom and the next image with single keys", () => {
    expect(keyAction(press("B"))).toEqual({ type: "tool", tool: "brush" });
    expect(keyAction(press("e"))).toEqual({ type: "tool", tool: "eraser" });
    expect(keyAction(press("g"))).toEqual({ type: "tool", tool: "fill" });
    expect(keyAction(press("]"))).toEqual({ type: "brushSize", factor: 1.25 });
    expect(keyAction(press("="))).toEqual(keyAction(press("+")));
    expect(keyAction(press("-"))).toEqual({ type: "zoom", factor: 0.8 });
    expect(keyAction(press("f"))).toEqual({ type: "fit" });
    expect(keyAction(press("a"))).toEqual({ type: "oneToOne" });
    expect(keyAction(press("n"))).toEqual({ type: "nextNeedingLabels" });
    expect(keyAction(press(" "))).toEqual({ type: "holdToPan" });
  });

  it("numbers classes from 1 and toggles overlays by their initial", () => {
    expect(keyAction(press("1"))).toEqual({ type: "class", position: 0 });
    expect(keyAction(press("9"))).toEqual({ type: "class", position: 8 });
    expect(keyAction(press("0"))).toBeNull();
    expect(keyAction(press("u"))).toEqual({ type: "overlay", name: "uncertainty" });
    expect(keyAction(press("m"))).toEqual({ type: "overlay", name: "mine" });
  });

  it("pins comments and moves images through review with single keys", () => {
    expect(keyAction(press("c"))).toEqual({ type: "tool", tool: "pin" });
    expect(keyAction(press("S"))).toEqual({ type: "review", move: "submit" });
    expect(keyAction(press("v"))).toEqual({ type: "review", move: "approve" });
    expect(keyAction(press("r"))).toEqual({ type: "review", move: "request_changes" });
    expect(keyAction(press("h"))).toEqual({ type: "history" });
    expect(keyAction(press("o"))).toEqual({ type: "overlay", name: "author" });
    expect(keyAction(press("s", { ctrlKey: true }))).toBeNull(); // the browser's save stays
  });

  it("leaves Alt combinations and unknown keys alone", () => {
    expect(keyAction(press("b", { altKey: true }))).toBeNull();
    expect(keyAction(press("x"))).toBeNull();
    expect(keyAction(press("Escape"))).toBeNull();
  });

  it("steps a stack's planes with , . (z) and < > (time), keys no other action uses", () => {
    expect(keyAction(press(","))).toEqual({ type: "plane", axis: "z", step: -1 });
    expect(keyAction(press("."))).toEqual({ type: "plane", axis: "z", step: 1 });
    expect(keyAction(press("<", { shiftKey: true }))).toEqual({ type: "plane", axis: "t", step: -1 });
    expect(keyAction(press(">", { shiftKey: true }))).toEqual({ type: "plane", axis: "t", step: 1 });
    expect(keyAction(press(".", { ctrlKey: true }))).toBeNull();
  });
});
