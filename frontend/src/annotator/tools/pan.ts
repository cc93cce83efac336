// The pan tool: drag the view. Taken for the length of a drag with the middle button or with
// the space bar held, whatever tool is chosen.
import type { Point } from "../../painter/geometry";
import type { Tool, ToolContext, ToolPointer } from "./tool";

export class PanTool implements Tool {
  readonly name = "pan";
  readonly cursor = "grab";
  readonly paints = false;
  private last: Point | null = null;

  constructor(private readonly context: ToolContext) {}

  activate(): void {}

  deactivate(): void {
    this.last = null;
  }

  pointerDown(at: ToolPointer): boolean {
    this.last = at.screen;
    return true;
  }

  pointerMove(at: ToolPointer): void {
    if (!this.last) return;
    this.context.panBy(at.screen.x - this.last.x, at.screen.y - this.last.y);
    this.last = at.screen;
  }

  pointerUp(): void {
    this.last = null;
  }

  cancel(): void {
    this.last = null;
  }

  draw(): void {}
}

export const pan = (context: ToolContext): PanTool => new PanTool(context);
