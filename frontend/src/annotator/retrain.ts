// Correct-and-retrain: paint over the prediction, then one click starts a run warm-started from
// the latest segmentation model with its settings, on the labels as saved now (managers).
import { listModelVersions, retrainFrom } from "../api/runs";
import type { ProjectSocket } from "../live";
import { trainingHref } from "../routes";
import { errorText, h, type messageLine } from "../ui";
import type { EditableLayer } from "./layer";

/** Saves of the layers tried before a retrain gives up on unsaved strokes. */
const SAVE_TRIES = 5;

export function retrainButton(
  projectId: number,
  mayManage: boolean,
  layers: EditableLayer[],
  message: ReturnType<typeof messageLine>,
  socket: ProjectSocket,
): HTMLButtonElement {
  const button = h("button", { "data-testid": "retrain", hidden: true, onclick: () => void retrain() }, "Retrain");
  let latest: number | null = null;

  async function refresh(): Promise<void> {
    if (!mayManage) return;
    latest = (await listModelVersions(projectId)).find((v) => v.kind === "segmentation")?.id ?? null; // newest first
    button.hidden = latest === null;
    button.textContent = `Retrain from v${latest}`;
    button.title = `Start a run warm-started from model v${latest}, with its settings, on the labels as they are now`;
  }

  async function retrain(): Promise<void> {
    if (latest === null) return;
    const from = latest;
    button.disabled = true;
    try {
      // The run freezes the labels it starts from: the strokes just painted must be saved first.
      const pending = (): EditableLayer[] => layers.filter((layer) => layer.hasUnsaved);
      for (let tries = 0; tries < SAVE_TRIES && pending().length; tries++) await Promise.all(pending().map((layer) => layer.save()));
      if (pending().length) {
        message.error("Your latest strokes are not saved yet, so the run would miss them: retrain once they are saved.");
        return;
      }
      const run = await retrainFrom(from);
      message.info(`Run #${run.id} is queued, warm-started from model v${from} with your corrections. `);
      message.node.append(h("a", { href: trainingHref(projectId), "data-testid": "retrain-link" }, "Watch it on the training page →"));
    } catch (error) {
      message.error(`Retrain: ${errorText(error)}`);
    } finally {
      button.disabled = false;
    }
  }

  socket.on("run.state", (event) => {
    if (event.state === "succeeded" && event.model_version) void refresh().catch(() => undefined);
  });
  void refresh().catch((error) => message.error(`Model versions: ${errorText(error)}`));
  return button;
}
