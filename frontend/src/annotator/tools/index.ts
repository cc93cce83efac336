// The tools by name: the one registry the canvas and the controls pick them from.
import type { ToolName } from "../settings";
import { brush } from "./brush";
import { eraser } from "./eraser";
import { fill } from "./fill";
import { pan } from "./pan";
import { pin } from "./pin";
import { tiles } from "./tiles";
import type { Tool, ToolContext } from "./tool";

export type { Tool, ToolContext, ToolPointer } from "./tool";

export function createTools(context: ToolContext): Record<ToolName, Tool> {
  return { brush: brush(context), eraser: eraser(context), fill: fill(context), pan: pan(context), pin: pin(context), tiles: tiles(context) };
}
