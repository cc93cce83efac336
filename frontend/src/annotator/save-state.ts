// The save state of the painted layers, as one word in the header (the worst of the layers'),
// and the browser's "leave the page?" question while edits are not saved yet.
import type { PaintedKind } from "../api/annotations";
import { h, type messageLine } from "../ui";
import type { EditableLayer, SaveState } from "./layer";

const SAVE_TEXT: Record<SaveState, string> = {
  saved: "saved",
  unsaved: "unsaved changes…",
  saving: "saving…",
  conflict: "conflict",
  error: "not saved",
};
const WORST_FIRST: SaveState[] = ["error", "conflict", "saving", "unsaved", "saved"];

/** The layers' save state, shown and kept; returns its node and what stops the unload warning. */
export function saveStateNote(layers: Record<PaintedKind, EditableLayer>, message: ReturnType<typeof messageLine>): { node: HTMLElement; stop(): void } {
  const node = h("span", { class: "save-state", "data-testid": "save-state", "data-state": "saved" }, "saved");
  for (const layer of Object.values(layers)) {
    layer.onState = (_state, detail) => {
      const states = Object.values(layers).map((l) => l.state);
      const worst = WORST_FIRST.find((s) => states.includes(s)) ?? "saved";
      node.dataset.state = worst;
      node.textContent = SAVE_TEXT[worst];
      if (worst === "conflict") message.info("Someone saved this layer first: merging their strokes with yours…");
      if (worst === "error" && detail) message.error(detail);
    };
  }
  const warnUnsaved = (event: BeforeUnloadEvent): void => {
    if (Object.values(layers).some((l) => l.hasUnsaved)) event.preventDefault();
  };
  window.addEventListener("beforeunload", warnUnsaved);
  return { node, stop: () => window.removeEventListener("beforeunload", warnUnsaved) };
}
