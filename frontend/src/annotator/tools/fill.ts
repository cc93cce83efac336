// The fill tool: a click floods the 4-connected region under it with the chosen class, on the
// dense mask only (a fill of the scribble layer would turn a scribble into a mask).
import type { Tool, ToolContext, ToolPointer } from "./tool";

export class FillTool implements Tool {
  readonly name = "fill";
  readonly cursor = "cell";
  readonly paints = true;

  constructor(private readonly context: ToolContext) {}

  activate(): void {}
  deactivate(): void {}

  pointerDown(at: ToolPointer): boolean {
    const { settings, imageWidth, imageHeight } = this.context;
    if (settings.target !== "dense") {
      this.context.refuse("The fill tool paints the dense mask: switch the layer to “dense mask” first.");
      return false;
    }
    const { x, y } = at.image;
    if (x >= 0 && y >= 0 && x < imageWidth && y < imageHeight) this.context.fill("dense", Math.floor(x), Math.floor(y), settings.classIndex);
    return false;
  }

  pointerMove(): void {}
  pointerUp(): void {}
  cancel(): void {}
  draw(): void {} // no outline: the fill takes the whole region under the pointer
}

export const fill = (context: ToolContext): FillTool => new FillTool(context);
