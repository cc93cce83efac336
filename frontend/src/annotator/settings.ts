// What the person has chosen in the annotator: tool, brush size, class, the layer painted on.
// Changed only through these methods, which keep the values valid and tell the listeners (the
// controls that show them, the canvas that draws the brush), so nothing else writes them.
import type { PaintedKind } from "../api/annotations";
import { MAX_RADIUS, MIN_RADIUS } from "../painter/raster";

export type ToolName = "brush" | "eraser" | "fill" | "pan" | "pin" | "tiles";

/** What the tools read: the settings of now. */
export interface PaintSettings {
  readonly tool: ToolName;
  readonly radius: number;
  readonly classIndex: number;
  readonly target: PaintedKind;
}

/** The largest brush the size slider offers (the keys go up to MAX_RADIUS). */
export const SLIDER_MAX_RADIUS = 64;

export class Settings implements PaintSettings {
  tool: ToolName = "brush";
  radius = 4;
  target: PaintedKind = "scribble";
  private readonly listeners = new Set<(settings: PaintSettings) => void>();

  constructor(public classIndex: number) {}

  onChange(listener: (settings: PaintSettings) => void): void {
    this.listeners.add(listener);
  }

  setTool(tool: ToolName): void {
    this.tool = tool;
    this.changed();
  }

  /** Half-pixel steps within the server's limits. */
  setRadius(radius: number): void {
    this.radius = Math.min(MAX_RADIUS, Math.max(MIN_RADIUS, Math.round(radius * 2) / 2));
    this.changed();
  }

  /** Choosing a class means painting with it: the eraser gives way to the brush. */
  setClass(classIndex: number): void {
    this.classIndex = classIndex;
    if (this.tool === "eraser") this.tool = "brush";
    this.changed();
  }

  setTarget(target: PaintedKind): void {
    this.target = target;
    this.changed();
  }

  private changed(): void {
    this.listeners.forEach((listener) => listener(this));
  }
}
