// The eraser: the brush painting 0 (unlabelled), so an erased pixel is one nobody has labelled.
import { StrokeTool } from "./brush";
import type { ToolContext } from "./tool";

export const eraser = (context: ToolContext): StrokeTool => new StrokeTool("eraser", context, () => 0);
