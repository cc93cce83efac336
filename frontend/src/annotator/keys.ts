// The annotator's keyboard, as one keymap: a key press to the action it stands for. Pure, so the
// map can be read (and tested) in one place; the page carries the actions out.
import type { OverlayName } from "./overlays";
import type { ToolName } from "./settings";
import { tileKey, type TileKey } from "./tile-grid";

export type KeyAction =
  | { type: "undo" }
  | { type: "redo" }
  | { type: "tool"; tool: ToolName }
  | { type: "brushSize"; factor: number }
  | { type: "fit" }
  | { type: "oneToOne" }
  | { type: "zoom"; factor: number }
  | { type: "nextNeedingLabels" }
  /** Review: submit (S), approve (V), request changes (R), the history panel (H). */
  | { type: "review"; move: "submit" | "approve" | "request_changes" }
  | { type: "history" }
  /** The class at this position (0: the first), as the class buttons number them. */
  | { type: "class"; position: number }
  | { type: "overlay"; name: OverlayName }
  /** Another plane of a stack: , . step z, < > step time (annotator/planes.ts). */
  | { type: "plane"; axis: "z" | "t"; step: number }
  /** The tile tool's keys, while it is chosen: P / A / 0 tag the current tile, arrows move it. */
  | { type: "tile"; key: TileKey }
  /** Space: drags pan while it is held. */
  | { type: "holdToPan" };

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

export const OVERLAY_KEYS: Record<string, OverlayName> = { m: "mine", o: "author", t: "others", d: "derived", p: "prediction", j: "objects", i: "instant", u: "uncertainty" };

const PLAIN_KEYS: Record<string, KeyAction> = {
  " ": { type: "holdToPan" },
  b: { type: "tool", tool: "brush" },
  e: { type: "tool", tool: "eraser" },
  g: { type: "tool", tool: "fill" },
  c: { type: "tool", tool: "pin" },
  l: { type: "tool", tool: "tiles" },
  "[": { type: "brushSize", factor: 1 / 1.25 },
  "]": { type: "brushSize", factor: 1.25 },
  f: { type: "fit" },
  a: { type: "oneToOne" },
  "+": { type: "zoom", factor: 1.25 },
  "=": { type: "zoom", factor: 1.25 },
  "-": { type: "zoom", factor: 0.8 },
  n: { type: "nextNeedingLabels" },
  s: { type: "review", move: "submit" },
  v: { type: "review", move: "approve" },
  r: { type: "review", move: "request_changes" },
  h: { type: "history" },
  ",": { type: "plane", axis: "z", step: -1 },
  ".": { type: "plane", axis: "z", step: 1 },
  "<": { type: "plane", axis: "t", step: -1 },
  ">": { type: "plane", axis: "t", step: 1 },
};

/** What a key press does, or null for keys the annotator leaves alone; with the tile tool chosen
 * (`tiles`), its own keys come first (so P and A tag tiles rather than toggle an overlay or zoom). */
export function keyAction(press: KeyPress, tiles = false): KeyAction | null {
  const key = press.key.toLowerCase();
  if (press.ctrlKey || press.metaKey) {
    if (key === "z") return { type: press.shiftKey ? "redo" : "undo" };
    if (key === "y") return { type: "redo" };
    return null;
  }
  if (press.altKey) return null;
  const tile = tiles && !press.shiftKey ? tileKey(press.key) : null;
  if (tile) return { type: "tile", key: tile };
  if (Object.hasOwn(PLAIN_KEYS, key)) return PLAIN_KEYS[key];
  if (/^[1-9]$/.test(key)) return { type: "class", position: Number(key) - 1 };
  if (Object.hasOwn(OVERLAY_KEYS, key)) return { type: "overlay", name: OVERLAY_KEYS[key] };
  return null;
}
