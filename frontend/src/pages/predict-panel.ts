// "Predict": a model version applied to a choice of images on a worker (the project page's
// selection, a split, all, those not predicted yet, the inference-only set), with a progress bar
// per job that the socket moves on, and a cancel button. Jobs queued or running when the page
// opens are read from the server, so a page opened mid-job shows it.
import { cancelPrediction, listPredictionJobs, startPrediction } from "../api/predict";
import { listModelVersions, type ModelVersion } from "../api/runs";
import type { ProjectSocket } from "../live";
import { errorText, h, messageLine } from "../ui";
import { isActive, jobAfter, jobFraction, jobFromRecord, jobText, newer, SCOPE_CHOICES, scopeOf, type JobView } from "./predict-jobs";
import { versionLabel } from "./run-config";
import { predicts } from "./versions";

export interface PredictPanelOptions {
  projectId: number;
  socket: ProjectSocket;
  /** Managers and owners start and cancel jobs; everyone sees them. */
  mayStart: boolean;
  /** The grid's selection, where the page has one. */
  selection?: { ids(): number[]; onChange(listener: (ids: number[]) => void): void };
}

interface JobRow {
  view: JobView;
  node: HTMLElement;
}

export class PredictPanel {
  readonly node: HTMLElement;
  private readonly message = messageLine();
  private readonly version = h("select", { "aria-label": "Model version", "data-testid": "predict-version" });
  private readonly scope = h("select", { "aria-label": "Images to predict", "data-testid": "predict-scope" });
  private readonly jobs = h("ul", { class: "prediction-jobs", "data-testid": "prediction-jobs" });
  private readonly rows = new Map<number, JobRow>();

  constructor(private readonly options: PredictPanelOptions) {
    const choices = SCOPE_CHOICES.filter(([value]) => value !== "selected" || options.selection);
    this.scope.append(...choices.map(([value, label]) => h("option", { value }, label)));
    options.selection?.onChange(() => this.showSelection());
    this.showSelection();
    const form = h(
      "form",
      { class: "predict-form", "data-testid": "predict-form", hidden: !options.mayStart },
      h("label", {}, "Model ", this.version),
      h("label", {}, "Images ", this.scope),
      h("button", { type: "submit", "data-testid": "predict-start" }, "Predict"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.start();
    });
    this.node = h("section", { class: "predict-panel", "data-testid": "predict-panel" }, h("h2", {}, "Predict"), form, this.message.node, this.jobs);
    options.socket.on("prediction.progress", (event) => this.show(jobAfter(this.rows.get(event.job)?.view, event)));
    options.socket.on("prediction.done", (event) => this.show(jobAfter(this.rows.get(event.job)?.view, event)));
  }

  /** The versions that predict (networks and forests), newest first; keeps the chosen one if it is still there. */
  setVersions(versions: ModelVersion[]): void {
    const chosen = this.version.value;
    const usable = versions.filter(predicts).sort((a, b) => b.id - a.id);
    this.version.replaceChildren(...usable.map((v) => h("option", { value: v.id }, versionLabel(v))));
    if (usable.some((v) => String(v.id) === chosen)) this.version.value = chosen;
    const none = !usable.length;
    this.version.disabled = none;
    (this.node.querySelector("[data-testid=predict-start]") as HTMLButtonElement).disabled = none;
    if (none && this.options.mayStart) this.message.info("No model to predict with yet: train one first.");
  }

  /** Read the project's versions again (a run has made one). */
  async refreshVersions(): Promise<void> {
    try {
      this.setVersions(await listModelVersions(this.options.projectId));
    } catch (error) {
      this.message.error(`Model versions: ${errorText(error)}`);
    }
  }

  /** Pick a version (the training page's "Predict" on a version's row) and bring the form into view. */
  chooseVersion(id: number): void {
    this.version.value = String(id);
    this.node.scrollIntoView({ block: "nearest" });
    this.scope.focus();
  }

  /** The jobs still queued or running, as the server has them. */
  async load(): Promise<void> {
    try {
      for (const job of await listPredictionJobs(this.options.projectId)) {
        const view = jobFromRecord(job);
        if (isActive(view) || this.rows.has(view.id)) this.show(newer(this.rows.get(view.id)?.view, view));
      }
    } catch (error) {
      this.message.error(`Prediction jobs: ${errorText(error)}`);
    }
  }

  private showSelection(): void {
    const option = this.scope.querySelector<HTMLOptionElement>("option[value=selected]");
    if (option) option.textContent = `the selected images (${this.options.selection?.ids().length ?? 0})`;
  }

  private async start(): Promise<void> {
    try {
      const selection = scopeOf(this.scope.value, this.options.selection?.ids() ?? []);
      const job = await startPrediction(Number(this.version.value), selection);
      this.message.info(`Predicting ${job.total} image${job.total === 1 ? "" : "s"} with model v${job.model_version}.`);
      this.show(newer(this.rows.get(job.id)?.view, jobFromRecord(job)));
    } catch (error) {
      this.message.error(`Nothing was predicted: ${errorText(error)}`);
    }
  }

  private async cancel(id: number): Promise<void> {
    try {
      const job = await cancelPrediction(id);
      this.show(newer(this.rows.get(id)?.view, jobFromRecord(job)));
      if (job.state !== "cancelled") this.message.info(`Job ${id} stops after the image it is on.`);
    } catch (error) {
      this.message.error(`Could not cancel: ${errorText(error)}`);
    }
  }

  /** Draw a job's row (a new one on top). */
  private show(view: JobView): void {
    const bar = h("progress", { max: 1, value: jobFraction(view) });
    const cancel = h("button", { class: "danger", "data-testid": "predict-cancel", onclick: () => void this.cancel(view.id) }, "Cancel");
    const node = h(
      "li",
      { "data-job": view.id, "data-state": view.state, class: `prediction-job ${view.state}` },
      h("span", { class: "job-text" }, jobText(view)),
      bar,
      this.options.mayStart && isActive(view) ? cancel : null,
    );
    const old = this.rows.get(view.id);
    if (old) old.node.replaceWith(node);
    else this.jobs.prepend(node);
    this.rows.set(view.id, { view, node });
  }
}
