// The annotator's prediction section: which model version's prediction is drawn (any version that
// predicted the image, the newest by default), its objects per countable class, and "Accept
// prediction", which makes it the image's dense mask as a new revision (asking first when that
// replaces labels; the mask it replaces stays in the history, restorable). After accepting, the
// dense layer reloads and becomes the layer painted on, so the person corrects it at once. The
// objects can be downloaded as CSV, and the dense mask counted the same way, to compare.
import { ApiError } from "../api/client";
import type { ImageSummary } from "../api/images";
import type { LabelClass } from "../api/projects";
import { acceptPrediction, denseMeasurements, predictionCsvUrl } from "../api/predict";
import { listPredictions, type Prediction } from "../api/runs";
import { countLines } from "../counts";
import { errorText, h, type messageLine } from "../ui";
import type { EditableLayer } from "./layer";
import type { Overlays } from "./overlays";
import { acceptQuestion, pickPrediction } from "./prediction-choice";

/** Saves of the dense layer tried before accepting gives up on unsaved strokes. */
const SAVE_TRIES = 5;

export interface PredictionParts {
  image: ImageSummary;
  classes: LabelClass[];
  overlays: Overlays;
  /** The dense layer the prediction is accepted into. */
  dense: EditableLayer;
  editable: boolean;
  message: ReturnType<typeof messageLine>;
  /** The prediction is now the dense mask. */
  accepted(): void;
  /** Ask a yes/no question (window.confirm). */
  ask?(question: string): boolean;
}

export class PredictionSection {
  readonly node: HTMLElement;
  private readonly version = h("select", { "aria-label": "Prediction of model version", "data-testid": "prediction-version" });
  private readonly counts = h("p", { class: "counts", "data-testid": "prediction-counts" });
  private readonly note = h("p", { class: "muted", "data-testid": "prediction-note" }, "No model has predicted this image yet.");
  private readonly acceptButton = h("button", { "data-testid": "accept-prediction", hidden: true }, "Accept prediction");
  private readonly csv = h("a", { "data-testid": "prediction-csv", hidden: true, download: "" }, "objects (CSV)");
  private readonly denseCounts = h("p", { class: "counts", "data-testid": "dense-counts" });
  private predictions: Prediction[] = [];
  private chosen: number | null = null;
  private shown: Prediction | null = null;

  constructor(private readonly parts: PredictionParts) {
    this.version.hidden = true;
    this.version.addEventListener("change", () => {
      this.chosen = Number(this.version.value);
      void this.show();
    });
    this.acceptButton.addEventListener("click", () => void this.accept());
    this.acceptButton.title = "Make this prediction the image's dense mask (a new version; the current one stays in the history)";
    const countDense = h("button", { "data-testid": "count-dense", onclick: () => void this.countDense() }, "Count my dense mask");
    countDense.title = "Count the objects of the image's dense mask as the model's are counted, to compare";
    this.node = h(
      "div",
      { class: "prediction", "data-testid": "prediction" },
      h("h3", {}, "Prediction"),
      this.version,
      this.note,
      this.counts,
      this.csv,
      h("div", { class: "group" }, this.acceptButton, countDense),
      this.denseCounts,
    );
  }

  /** Read the image's predictions (again: a job has stored one) and draw the chosen version's. */
  async load(): Promise<void> {
    const { image } = this.parts;
    this.predictions = (await listPredictions(image.project, { image: image.id })).sort((a, b) => b.model_version - a.model_version);
    this.version.replaceChildren(...this.predictions.map((p) => h("option", { value: p.model_version }, `model v${p.model_version}`)));
    this.version.hidden = this.predictions.length === 0;
    await this.show();
  }

  /** Say what the chosen prediction found, then draw it. */
  private async show(): Promise<void> {
    const { overlays, classes } = this.parts;
    const prediction = pickPrediction(this.predictions, this.chosen);
    this.shown = prediction;
    this.acceptButton.hidden = !prediction || !this.parts.editable;
    this.csv.hidden = !prediction;
    if (prediction) {
      this.version.value = String(prediction.model_version);
      const lines = countLines(prediction.counts, classes);
      this.counts.textContent = lines.length ? `Objects: ${lines.join(" · ")}` : "";
      this.csv.href = predictionCsvUrl(prediction.id);
      this.note.textContent = `mean uncertainty ${prediction.uncertainty.toFixed(3)} · ${new Date(prediction.created_at).toLocaleString()}`;
    }
    await overlays.showPrediction(prediction, (error) => this.parts.message.error(`Object outlines: ${errorText(error)}`));
  }

  private async countDense(): Promise<void> {
    try {
      const lines = countLines((await denseMeasurements(this.parts.image.id)).counts, this.parts.classes);
      this.denseCounts.textContent = `Dense mask: ${lines.length ? lines.join(" · ") : "no countable class"}`;
    } catch (error) {
      this.denseCounts.textContent = "";
      this.parts.message.error(`Counting the dense mask: ${errorText(error)}`);
    }
  }

  private async accept(): Promise<void> {
    const prediction = this.shown;
    const { dense, message } = this.parts;
    if (!prediction) return;
    const question = acceptQuestion({ version: dense.version, hasLabels: dense.map.data.some((v) => v !== 0) }, prediction.model_version);
    if (question && !(this.parts.ask ?? ((text: string) => window.confirm(text)))(question)) return;
    this.acceptButton.disabled = true;
    try {
      // The accept names the dense version it replaces: strokes painted on it must be saved first.
      for (let tries = 0; tries < SAVE_TRIES && dense.hasUnsaved; tries++) await dense.save();
      if (dense.hasUnsaved) throw new Error("your latest strokes on the dense mask are not saved yet; accept once they are");
      const head = await acceptPrediction(prediction.id, dense.version);
      await dense.remoteChanged(head.id, head.version);
      this.parts.accepted();
      message.info(
        `Model v${prediction.model_version}'s prediction is now the dense mask (version ${head.version}); correct it with the usual tools.` +
          (question ? " The earlier mask is in the history (H), where it can be restored." : ""),
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        const reloaded = await dense.reload().then(
          () => "it has been reloaded",
          (reloading) => `reading it again failed (${errorText(reloading)})`,
        );
        message.error(`Someone saved the dense mask meanwhile; ${reloaded}. Look at it, then accept again to replace it.`);
      } else message.error(`Accept prediction: ${errorText(error)}`);
    } finally {
      this.acceptButton.disabled = false;
    }
  }
}
