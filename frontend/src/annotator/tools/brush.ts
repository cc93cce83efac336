// The brush: a round stroke of the chosen class and size on the chosen layer, shown on the
// interactive canvas while it is drawn and painted on the layer (one undo entry) when released.
// The eraser (tools/eraser.ts) is the same tool painting 0.
import type { Stroke } from "../../api/annotations";
import type { Point } from "../../painter/geometry";
import type { ToolName } from "../settings";
import type { Tool, ToolContext, ToolPointer } from "./tool";

/** Points further apart than this fraction of the radius are kept: enough for the shape, not thousands. */
const SPACING = 1 / 3;
/** The server takes at most this many points a stroke. */
export const MAX_POINTS = 10_000;

const round = (value: number): number => Math.round(value * 100) / 100;

/** A stroke point, kept within `radius` of the image (the server refuses points further out). */
export function strokePoint(at: Point, radius: number, width: number, height: number): [number, number] {
  const clamp = (value: number, size: number): number => round(Math.min(size + radius, Math.max(-radius, value)));
  return [clamp(at.x, width), clamp(at.y, height)];
}

/** Add `at` to the stroke when it is far enough from the last point; true when it was added. */
export function extendStroke(stroke: Stroke, at: Point, width: number, height: number): boolean {
  const [lastX, lastY] = stroke.points[stroke.points.length - 1];
  const step = Math.max(0.5, stroke.radius * SPACING);
  if (Math.hypot(at.x - lastX, at.y - lastY) < step || stroke.points.length >= MAX_POINTS) return false;
  stroke.points.push(strokePoint(at, stroke.radius, width, height));
  return true;
}

export class StrokeTool implements Tool {
  readonly cursor = "crosshair";
  readonly paints = true;
  private stroke: Stroke | null = null;

  constructor(
    readonly name: ToolName,
    private readonly context: ToolContext,
    /** The value painted: the chosen class, or 0 for the eraser. */
    private readonly value: () => number,
  ) {}

  activate(): void {}

  deactivate(): void {
    this.finish();
  }

  pointerDown(at: ToolPointer): boolean {
    const { radius } = this.context.settings;
    const { imageWidth, imageHeight } = this.context;
    this.stroke = { class_index: this.value(), radius, points: [strokePoint(at.image, radius, imageWidth, imageHeight)] };
    this.context.redraw();
    return true;
  }

  pointerMove(at: ToolPointer): void {
    if (this.stroke && extendStroke(this.stroke, at.image, this.context.imageWidth, this.context.imageHeight)) this.context.redraw();
  }

  pointerUp(): void {
    this.finish();
  }

  cancel(): void {
    this.stroke = null;
    this.context.redraw();
  }

  draw(context: CanvasRenderingContext2D, pointer: Point | null, scale: number): void {
    if (this.stroke) drawStroke(context, this.stroke, this.context.inkOf(this.stroke.class_index));
    if (!pointer) return;
    context.strokeStyle = "white";
    context.lineWidth = 1 / scale;
    context.beginPath();
    context.arc(pointer.x, pointer.y, this.context.settings.radius, 0, Math.PI * 2);
    context.stroke();
  }

  private finish(): void {
    const stroke = this.stroke;
    if (!stroke) return;
    this.stroke = null;
    this.context.paint(this.context.settings.target, stroke);
    this.context.redraw();
  }
}

function drawStroke(context: CanvasRenderingContext2D, stroke: Stroke, ink: { color: string; alpha: number }): void {
  context.strokeStyle = ink.color;
  context.globalAlpha = ink.alpha;
  context.lineWidth = stroke.radius * 2;
  context.lineCap = context.lineJoin = "round";
  context.beginPath();
  const [first, ...rest] = stroke.points;
  context.moveTo(first[0], first[1]);
  for (const [x, y] of rest.length ? rest : [first]) context.lineTo(x, y);
  context.stroke();
  context.globalAlpha = 1;
}

export const brush = (context: ToolContext): StrokeTool => new StrokeTool("brush", context, () => context.settings.classIndex);
