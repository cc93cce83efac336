// The interface every annotator tool implements (brush, eraser, fill, pan, pin, tiles: one module each), and
// what a tool may do. Tools never touch layers, the view or the page: they read the settings and
// call the actions of their ToolContext, so each can be tried on a small map in a unit test.
import type { PaintedKind, Stroke } from "../../api/annotations";
import type { Point } from "../../painter/geometry";
import type { PaintSettings, ToolName } from "../settings";
import type { TileGridView } from "../tile-tags";

/** Where the pointer is: in image pixels (what tools paint) and in canvas CSS pixels (what pans). */
export interface ToolPointer {
  image: Point;
  screen: Point;
}

export interface ToolContext {
  readonly settings: PaintSettings;
  readonly imageWidth: number;
  readonly imageHeight: number;
  /** Paint a finished stroke on a layer: one undo entry. */
  paint(layer: PaintedKind, stroke: Stroke): void;
  /** Flood-fill a layer from the whole pixel (col, row) with `value`: one undo entry. */
  fill(layer: PaintedKind, col: number, row: number, value: number): void;
  /** Move the view by (dx, dy) CSS pixels. */
  panBy(dx: number, dy: number): void;
  /** Pin a new comment at the image point (x, y): the comment form opens there. */
  pin(x: number, y: number): void;
  /** The tile tool's click at the image point (x, y): that tile becomes current and its tag steps on. */
  clickTile(x: number, y: number): void;
  /** What the tile tool draws: grid size, the chosen class's tagged tiles, the current tile. */
  tileGrid(): TileGridView;
  /** Say why nothing happened. */
  refuse(reason: string): void;
  /** What the tool shows on the interactive canvas changed (the stroke in progress). */
  redraw(): void;
  /** How a stroke of a class looks while it is drawn (CSS colour, opacity). */
  inkOf(classIndex: number): { color: string; alpha: number };
}

export interface Tool {
  readonly name: ToolName;
  /** The CSS cursor over the canvas while the tool is chosen. */
  readonly cursor: string;
  /** Whether it changes labels (refused while the person may not paint: a viewer, an image under review). */
  readonly paints: boolean;
  /** The tool is chosen. */
  activate(): void;
  /** Another tool is chosen: what is in progress is finished as a pointer-up would. */
  deactivate(): void;
  /** A press on the canvas; true when the tool takes the drag that follows. */
  pointerDown(at: ToolPointer): boolean;
  pointerMove(at: ToolPointer): void;
  pointerUp(at: ToolPointer): void;
  /** Drop what is in progress without applying it. */
  cancel(): void;
  /**
   * Draw on the interactive canvas, whose context holds the view's transform (image pixels):
   * the outline at the pointer (null: not over the canvas), the stroke in progress.
   */
  draw(context: CanvasRenderingContext2D, pointer: Point | null, scale: number): void;
}
