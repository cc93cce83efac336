// The pin tool (C): a click on the image pins a new comment there; the comment form opens at that
// point (annotator/comments.ts). It paints nothing, so it works on images under review too.
import type { Tool, ToolContext, ToolPointer } from "./tool";

export class PinTool implements Tool {
  readonly name = "pin";
  readonly cursor = "copy";
  readonly paints = false;

  constructor(private readonly context: ToolContext) {}

  activate(): void {}
  deactivate(): void {}

  pointerDown(at: ToolPointer): boolean {
    const { x, y } = at.image;
    const { imageWidth, imageHeight } = this.context;
    if (x >= 0 && y >= 0 && x < imageWidth && y < imageHeight) this.context.pin(Math.round(x * 10) / 10, Math.round(y * 10) / 10);
    else this.context.refuse("Pin a comment on the image itself.");
    return false;
  }

  pointerMove(): void {}
  pointerUp(): void {}
  cancel(): void {}
  draw(): void {}
}

export const pin = (context: ToolContext): PinTool => new PinTool(context);
