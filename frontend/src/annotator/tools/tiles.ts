// The tile-tag tool (L): the image as a grid of tiles of the chosen size; a click makes a tile
// current and steps its tag for the chosen class (none, present, absent); keys P / A / 0 tag the
// current tile, arrows move it (annotator/tile-grid.ts). Tiles show their tag as a colour.
import type { Point } from "../../painter/geometry";
import type { TileGridView } from "../tile-tags";
import type { Tool, ToolContext, ToolPointer } from "./tool";

export const TILE_COLORS = { present: "rgba(40, 200, 80, 0.35)", absent: "rgba(220, 50, 50, 0.35)", grid: "rgba(255, 255, 255, 0.45)", current: "#ffd400" };

export class TilesTool implements Tool {
  readonly name = "tiles";
  readonly cursor = "pointer";
  readonly paints = true;

  constructor(private readonly context: ToolContext) {}

  activate(): void {
    this.context.redraw();
  }

  deactivate(): void {}

  pointerDown(at: ToolPointer): boolean {
    const { x, y } = at.image;
    const { imageWidth, imageHeight } = this.context;
    if (x >= 0 && y >= 0 && x < imageWidth && y < imageHeight) this.context.clickTile(x, y);
    else this.context.refuse("Click a tile of the image.");
    return false;
  }

  pointerMove(): void {}
  pointerUp(): void {}
  cancel(): void {}

  draw(context: CanvasRenderingContext2D, _pointer: Point | null, scale: number): void {
    drawGrid(context, this.context.tileGrid(), this.context.imageWidth, this.context.imageHeight, scale);
  }
}

/** The grid lines, each tagged tile filled with its tag's colour, and the current tile outlined. */
export function drawGrid(context: CanvasRenderingContext2D, view: TileGridView, width: number, height: number, scale: number): void {
  for (const [x, y, w, h, present] of view.tiles) {
    context.fillStyle = present ? TILE_COLORS.present : TILE_COLORS.absent;
    context.fillRect(x, y, w, h);
  }
  context.beginPath();
  for (let x = view.size; x < width; x += view.size) context.rect(x, 0, 0, height);
  for (let y = view.size; y < height; y += view.size) context.rect(0, y, width, 0);
  context.strokeStyle = TILE_COLORS.grid;
  context.lineWidth = 1 / scale;
  context.stroke();
  if (view.current) {
    context.strokeStyle = TILE_COLORS.current;
    context.lineWidth = 3 / scale;
    context.strokeRect(view.current.x, view.current.y, view.current.width, view.current.height);
  }
}

export const tiles = (context: ToolContext): TilesTool => new TilesTool(context);
