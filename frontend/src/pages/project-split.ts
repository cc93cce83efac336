// The project page's split panel: how many images are in training and validation (a stack counts
// as one), managers put the selected images in a split or hold out N images for validation at
// random with a seed (the same seed and images choose the same ones). The grid shows each card's
// split; every open page follows changes through the images.split event.
import type { Split } from "../api/images";
import { holdOut, setSplit } from "../api/splits";
import type { ProjectSocket } from "../live";
import { errorText, h, messageLine, numberField } from "../ui";
import { gridUnits, splitCounts, toMove } from "./grid-units";
import type { ImageGrid } from "./image-grid";

const SPLITS: Split[] = ["train", "validation", "unassigned"];

/** "Set the selected images to [train] [validation] [unassigned]". */
function selectionControls(projectId: number, grid: ImageGrid, message: ReturnType<typeof messageLine>): HTMLElement {
  const buttons = SPLITS.map((split) =>
    h("button", { type: "button", "data-split": split, disabled: true, onclick: () => void send(split) }, split),
  );
  const count = h("span", {}, "Set the selected images to ");
  grid.onSelection((ids) => {
    for (const button of buttons) button.disabled = !ids.length;
    count.textContent = ids.length ? `Set the ${ids.length} selected image(s) to ` : "Set the selected images to ";
  });
  async function send(split: Split): Promise<void> {
    const ids = toMove(new Set(grid.selection()), grid.images(), split);
    if (!ids.length) return message.info(`The selection is in ${split} already.`);
    try {
      const done = await setSplit(projectId, ids, split);
      grid.setSplit(done.images, split);
      grid.clearSelection();
      message.info(`${done.images.length} image(s) now in ${split}.`);
    } catch (error) {
      message.error(errorText(error));
    }
  }
  return h("div", { class: "split-panel" }, count, ...buttons);
}

/** "Hold out [N] images for validation, seed [S], [ ] only images with dense masks, [Hold out]". */
function holdOutControls(projectId: number, grid: ImageGrid, message: ReturnType<typeof messageLine>): HTMLElement {
  const count = numberField("holdout_count", 1, 1, 100_000);
  const seed = numberField("holdout_seed", 0, 0, 2 ** 31 - 1);
  const dense = h("input", { type: "checkbox", "aria-label": "only images with dense masks" });
  async function send(): Promise<void> {
    try {
      const held = await holdOut(projectId, { count: Number(count.value), seed: Number(seed.value), with_dense_masks: dense.checked });
      const validation = new Set(held.validation);
      grid.setSplit(held.validation, "validation");
      grid.setSplit(grid.images().filter((image) => !validation.has(image.id)).map((image) => image.id), "train");
      message.info(`${held.validation.length} image(s) held out for validation with seed ${held.seed}; ${held.train} train.`);
    } catch (error) {
      message.error(errorText(error));
    }
  }
  return h(
    "div",
    { class: "split-panel" },
    h("label", {}, "Hold out ", count, " images for validation"),
    h("label", {}, "seed ", seed),
    h("label", {}, dense, " only images with dense masks"),
    h("button", { type: "button", "data-testid": "hold-out", onclick: () => void send() }, "Hold out"),
  );
}

export function splitPanel(projectId: number, grid: ImageGrid, socket: ProjectSocket, manage: boolean): HTMLElement {
  const message = messageLine();
  const counts = h("p", { class: "muted", "data-testid": "split-counts" });
  const showCounts = (): void => {
    const c = splitCounts(gridUnits(grid.images()));
    counts.textContent = `train ${c.train} · validation ${c.validation} · unassigned ${c.unassigned}${c.mixed ? ` · mixed ${c.mixed}` : ""} (a stack counts as one)`;
  };
  grid.onChange(showCounts);
  socket.on("images.split", (event) => grid.setSplit(event.images, event.split as Split));
  showCounts();
  return h(
    "section",
    { "data-testid": "split" },
    h("h3", {}, "Train / validation split"),
    counts,
    manage ? selectionControls(projectId, grid, message) : null,
    manage ? holdOutControls(projectId, grid, message) : null,
    message.node,
  );
}
