// The training page: start a run, follow it live (curves, previews, queue position, ETA),
// cancel it, and compare runs and model versions side by side.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import {
  getProject,
  getRun,
  listClasses,
  listModelVersions,
  listProjects,
  listRuns,
  postJSON,
  runMetrics,
  type LabelClass,
  type ModelVersion,
  type Run,
  type RunMetric,
} from "../api";
import { fetchMap, Overlay } from "../annotator/maps";
import { ProjectSocket, type LiveEvent } from "../live";
import { parseHexColor } from "../painter/colors";
import { canManage, crumbs, errorText, h, messageLine, numberField as number, selectField as select, sourceBoxes, ARCHITECTURES, ENCODERS, seconds, type Stop } from "../ui";

const STRATEGIES = ["labels", "tags", "pretrain"];
const PRETEXT_TASKS = ["masked", "fluorescence"];

/** A `run.stage` event (stage 1 of a "tags" run: classifier, then Score-CAM) as one line. */
export function stageText(event: LiveEvent): string {
  const label = event.stage === "classifier" ? "tag classifier" : String(event.stage);
  return `${label} ${Number(event.done)}/${Number(event.total)}`;
}

/** A curve point, from the REST history or from the socket, in one shape. */
/** How a model version is offered as a starting point: "model v7 (encoder)", with its project when not this one. */
export function versionLabel(version: Pick<ModelVersion, "id" | "kind">, projectName?: string): string {
  const kind = version.kind === "segmentation" ? "" : ` (${version.kind})`;
  return `model v${version.id}${kind}${projectName ? ` of ${projectName}` : ""}`;
}

export interface Point {
  seq: number;
  kind: string;
  step: number;
  epoch: number;
  values: Record<string, unknown>;
}

export function pointFromEvent(event: LiveEvent): Point {
  const { type, run: _run, seq, step, epoch, at: _at, ...values } = event;
  return { seq: Number(seq), kind: String(type).replace("run.", ""), step: Number(step), epoch: Number(epoch), values };
}

export function pointFromMetric(runId: number, metric: RunMetric): Point {
  const values = { ...metric.values };
  if (metric.kind === "preview") values.url = `/api/runs/${runId}/previews/${metric.seq}.png`;
  return { seq: metric.seq, kind: metric.kind, step: metric.step, epoch: metric.epoch, values };
}

export async function showTraining(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, classes, runs, versions] = await Promise.all([
    getProject(projectId),
    listClasses(projectId),
    listRuns(projectId),
    listModelVersions(projectId),
  ]);
  const socket = new ProjectSocket(projectId);
  const palette = new Map(classes.map((c) => [c.index, parseHexColor(c.color)] as [number, [number, number, number]]));
  const message = messageLine();
  const runList = h("table", { class: "runs", "data-testid": "runs" });
  const versionList = h("table", { class: "versions", "data-testid": "versions" });
  const followed = h("section", { class: "followed", "data-testid": "followed-run" });
  const runsById = new Map(runs.map((run) => [run.id, run]));
  const stages = new Map<number, string>(); // run id -> its latest stage-1 line
  let view: RunView | null = null;

  function renderRuns(): void {
    runList.replaceChildren(
      h("tr", {}, ...["run", "state", "by", "queue", "progress", "model", ""].map((t) => h("th", {}, t))),
      ...[...runsById.values()]
        .sort((a, b) => b.id - a.id)
        .map((run) =>
          h(
            "tr",
            { "data-run": run.id, class: view?.run.id === run.id ? "selected" : "" },
            h("td", {}, h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), void follow(run.id)) }, `#${run.id}`)),
            h("td", { class: `state ${run.state}` }, run.state),
            h("td", {}, run.created_by),
            h("td", {}, run.queue_position ? `${run.queue_position}` : ""),
            h("td", {}, run.progress?.step ? `${run.progress.step}/${run.progress.steps}` : (stages.get(run.id) ?? "")),
            h("td", {}, run.model_version ? `v${run.model_version}` : ""),
            h("td", {}, run.error ? h("span", { class: "error" }, run.error) : ""),
          ),
        ),
    );
  }

  function renderVersions(): void {
    const metric = (version: ModelVersion, key: string): string => {
      const validation = (version.metrics.validation ?? {}) as Record<string, number>;
      return typeof validation[key] === "number" ? validation[key].toFixed(3) : "–";
    };
    versionList.replaceChildren(
      h("tr", {}, ...["version", "run", "kind", "architecture", "pixel F1", "IoU", "created"].map((t) => h("th", {}, t))),
      ...versions
        .sort((a, b) => b.id - a.id)
        .map((version) => {
          const train = (version.config.train ?? {}) as Record<string, unknown>;
          return h(
            "tr",
            {},
            h("td", {}, `v${version.id}`),
            h("td", {}, version.run ? `#${version.run}` : ""),
            h("td", {}, version.kind),
            h("td", {}, `${train.architecture ?? ""}/${train.encoder ?? ""}`),
            h("td", {}, metric(version, "pixel_f1")),
            h("td", {}, metric(version, "iou")),
            h("td", {}, new Date(version.created_at).toLocaleString()),
          );
        }),
    );
  }

  async function follow(runId: number): Promise<void> {
    view?.stop();
    view = new RunView(await getRun(runId), [...classes].sort((a, b) => a.index - b.index), palette);
    followed.replaceChildren(view.node);
    await view.load();
    renderRuns();
  }

  socket.on("run.state", async (event) => {
    const run = await getRun(Number(event.run));
    runsById.set(run.id, run);
    if (view?.run.id === run.id) view.setRun(run);
    if (run.state === "succeeded") versions.splice(0, versions.length, ...(await listModelVersions(projectId)));
    renderRuns();
    renderVersions();
  });
  socket.on("*", (event) => {
    if (event.type === "run.progress") {
      const run = runsById.get(Number(event.run));
      if (run) run.progress = { step: Number(event.step), steps: Number(event.steps) };
      renderRuns();
    }
    if (event.type === "run.stage") {
      stages.set(Number(event.run), stageText(event));
      if (view?.run.id === Number(event.run)) view.showStage(stageText(event));
      renderRuns();
      return;
    }
    if (view && String(event.type).startsWith("run.") && event.type !== "run.state" && Number(event.run) === view.run.id) {
      view.receive(pointFromEvent(event));
    }
  });
  socket.on("predictions.ready", () => view?.predictionsReady());

  const form = canManage(project.role) ? runForm(projectId, versions, classes, message, (run) => {
    runsById.set(run.id, run);
    renderRuns();
    void follow(run.id);
  }) : h("p", { class: "muted" }, "Managers and owners start runs; you can follow them here.");

  renderRuns();
  renderVersions();
  root.replaceChildren(
    crumbs(
      projectId,
      project.name,
      h("strong", {}, "Training"),
      h("a", { class: "button", href: `#/projects/${projectId}/study`, "data-testid": "study-link" }, "How many labels do I need? →"),
    ),
    h("div", { class: "training-layout" }, h("section", {}, h("h2", {}, "Start a run"), form, message.node), followed),
    h("section", {}, h("h2", {}, "Runs"), runList),
    h("section", {}, h("h2", {}, "Model versions"), versionList),
  );
  const latest = [...runsById.values()].sort((a, b) => b.id - a.id)[0];
  if (latest) await follow(latest.id);
  return () => {
    view?.stop();
    socket.close();
  };
}

function runForm(
  projectId: number,
  versions: ModelVersion[],
  classes: LabelClass[],
  message: ReturnType<typeof messageLine>,
  started: (run: Run) => void,
): HTMLElement {
  const sources = sourceBoxes();
  const architecture = select("architecture", ARCHITECTURES, "unet");
  const encoder = select("encoder", ENCODERS, "resnet18");
  // ImageNet weights only from a copy the server has on disk (LESSLABEL_WEIGHTS_DIR); it says so if not.
  const imagenet = h("input", { type: "checkbox", name: "imagenet" });
  const epochs = number("epochs", 10, 1, 200);
  const stepsPerEpoch = number("steps_per_epoch", 100, 1, 10000);
  const patch = number("patch_size", 256, 32, 1024);
  const batch = number("batch_size", 8, 1, 64);
  // "tags": a classifier on the images tagged present / absent for one class, Score-CAM
  // pseudo-masks from it, then the network as usual (scribbles and masks win over them).
  const strategy = select("strategy", STRATEGIES, "labels");
  const tagClass = h("select", { name: "tag_class" }, ...classes.map((c) => h("option", { value: c.id }, c.name)));
  tagClass.value = String(classes.at(-1)?.id ?? "");
  const tile = number("tile", 128, 32, 1024);
  const classifierSteps = number("classifier_steps", 300, 1, 20000);
  const tagOptions = h(
    "fieldset",
    { hidden: true, "data-testid": "tag-options" },
    h("legend", {}, "Tags"),
    h("label", {}, "Tag class ", tagClass),
    h("label", {}, "Tile ", tile),
    h("label", {}, "Classifier steps ", classifierSteps),
  );
  // "pretrain": self-supervised, no labels: reconstruct blanked squares ("masked") or predict a
  // paired stain from the input channels ("fluorescence"); the encoder version it makes is a
  // warm start for later runs of this or another project.
  const task = select("task", PRETEXT_TASKS, "masked");
  const targetChannel = h("input", { name: "target_channel", value: "fluorescence" });
  const targetLabel = h("label", { hidden: true }, "Predict channel ", targetChannel);
  task.addEventListener("change", () => (targetLabel.hidden = task.value !== "fluorescence"));
  const pretrainOptions = h(
    "fieldset",
    { hidden: true, "data-testid": "pretrain-options" },
    h("legend", {}, "Self-supervised pretraining (no labels)"),
    h("label", {}, "Task ", task),
    targetLabel,
  );
  const labelSources = h(
    "fieldset",
    {},
    h("legend", {}, "Labels to learn from"),
    ...sources.map((box) => h("label", {}, box, ` ${box.value}`)),
  );
  // Train the decoder only, on top of the warm start's (or ImageNet's) encoder: with few labelled
  // images, fine-tuning everything forgets what pretraining learnt.
  const freeze = h("input", { type: "checkbox", name: "freeze_encoder" });
  const freezeLabel = h("label", {}, freeze, " Keep the starting encoder fixed (train the decoder only)");
  // Scoring each image as the mean over its 8 rotations and mirror images: steadier masks, 8x the time.
  const augment = h("input", { type: "checkbox", name: "test_time_augmentation" });
  const augmentLabel = h("label", {}, augment, " Score images in 8 orientations and average them (8x slower scoring)");
  strategy.addEventListener("change", () => {
    tagOptions.hidden = strategy.value !== "tags";
    pretrainOptions.hidden = strategy.value !== "pretrain";
    labelSources.hidden = strategy.value === "pretrain";
    freezeLabel.hidden = strategy.value === "pretrain";
    augmentLabel.hidden = strategy.value === "pretrain";
  });
  const warm = h(
    "select",
    { name: "warm_start", "data-testid": "warm-start" },
    h("option", { value: "" }, "from scratch"),
    ...versions.map((v) => h("option", { value: v.id }, versionLabel(v))),
  );
  void offerOtherProjects(projectId, warm);
  const form = h(
    "form",
    { class: "run-form", "data-testid": "run-form" },
    labelSources,
    h("label", {}, "Strategy ", strategy),
    tagOptions,
    pretrainOptions,
    h("label", {}, "Architecture ", architecture),
    h("label", {}, "Encoder ", encoder),
    h("label", {}, imagenet, " ImageNet encoder weights (local copy)"),
    h("label", {}, "Epochs ", epochs),
    h("label", {}, "Steps per epoch ", stepsPerEpoch),
    h("label", {}, "Patch size ", patch),
    h("label", {}, "Batch size ", batch),
    h("label", {}, "Warm start ", warm),
    freezeLabel,
    augmentLabel,
    h("button", { type: "submit" }, "Start training"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const steps = Number(epochs.value) * Number(stepsPerEpoch.value);
    const network = {
      architecture: architecture.value,
      encoder: encoder.value,
      encoder_weights: imagenet.checked ? "imagenet" : null,
      steps,
      warmup_steps: Math.max(1, Math.min(50, Math.round(steps / 10))),
      steps_per_epoch: Number(stepsPerEpoch.value),
      patch_size: Number(patch.value),
      batch_size: Number(batch.value),
    };
    const pretext = task.value === "fluorescence" ? { task: "fluorescence", target_channels: [targetChannel.value] } : { task: "masked" };
    const config =
      strategy.value === "pretrain"
        ? { strategy: "pretrain", ...pretext, ...network }
        : {
            label_sources: sources.filter((box) => box.checked).map((box) => box.value),
            ...network,
            freeze_encoder: freeze.checked,
            test_time_augmentation: augment.checked,
            ...(strategy.value === "tags"
              ? { strategy: "tags", tag_class: Number(tagClass.value), tile: Number(tile.value), classifier_steps: Number(classifierSteps.value) }
              : {}),
          };
    try {
      const run = await postJSON<Run>(`/api/projects/${projectId}/runs/`, {
        config,
        warm_start: warm.value ? Number(warm.value) : null,
      });
      message.info(`Run #${run.id} is queued.`);
      started(run);
    } catch (error) {
      message.error(errorText(error));
    }
  });
  return form;
}

/** Transfer: model versions of the other projects this user can read, grouped by project. */
async function offerOtherProjects(projectId: number, warm: HTMLSelectElement): Promise<void> {
  const others = (await listProjects()).filter((project) => project.id !== projectId);
  for (const project of others) {
    const versions = await listModelVersions(project.id);
    if (!versions.length) continue;
    warm.append(
      h("optgroup", { label: project.name }, ...versions.map((v) => h("option", { value: v.id }, versionLabel(v, project.name)))),
    );
  }
}

/**
 * One run followed live. The socket's points are buffered until the stored history has loaded,
 * then only points past the last known `seq` are taken; a gap (a dropped socket) is filled from
 * the REST API. So the curve has every point once, in order.
 */
class RunView {
  readonly node: HTMLElement;
  private points: Point[] = [];
  private lastSeq = 0;
  private loaded = false;
  private buffered: Point[] = [];
  private filling = false;
  private readonly status = h("p", { class: "run-status", "data-testid": "run-status" });
  private readonly lossChart: uPlot;
  private readonly metricChart: uPlot;
  private readonly previews = h("div", { class: "previews", "data-testid": "previews" });
  private readonly previewCanvases = new Map<number, HTMLElement>();

  constructor(
    public run: Run,
    private readonly classes: LabelClass[], // sorted by index: model class k is classes[k]
    private readonly palette: Map<number, [number, number, number]>,
  ) {
    const lossBox = h("div", { class: "chart", "data-testid": "loss-chart" });
    const metricBox = h("div", { class: "chart", "data-testid": "metric-chart" });
    const cancel = h("button", { class: "danger", onclick: () => void this.cancel() }, "Cancel run");
    this.node = h(
      "div",
      {},
      h("h2", {}, `Run #${run.id}`, " ", cancel),
      this.status,
      lossBox,
      metricBox,
      h("h3", {}, "Preview predictions"),
      this.previews,
    );
    this.lossChart = new uPlot(
      {
        width: 520,
        height: 200,
        title: "training loss",
        scales: { x: { time: false } },
        series: [{ label: "step" }, { label: "loss", stroke: "#d9480f", width: 2 }],
      },
      [[], []],
      lossBox,
    );
    const ordered = [...classes].sort((a, b) => a.index - b.index); // model class k = ordered[k]
    this.metricChart = new uPlot(
      {
        width: 520,
        height: 200,
        title: "validation",
        scales: { x: { time: false }, y: { range: [0, 1] } },
        series: [
          { label: "step" },
          { label: "pixel F1", stroke: "#1971c2", width: 2 },
          { label: "IoU", stroke: "#2f9e44", width: 2 },
          ...ordered.map((c) => ({ label: `F1 ${c.name}`, stroke: c.color, dash: [4, 4] })),
        ],
      },
      [[], [], [], ...ordered.map(() => [])],
      metricBox,
    );
    this.setRun(run);
  }

  async load(): Promise<void> {
    const stored = await runMetrics(this.run.id);
    for (const metric of stored) this.take(pointFromMetric(this.run.id, metric));
    this.loaded = true;
    for (const point of this.buffered) this.receive(point);
    this.buffered = [];
    this.redraw();
  }

  receive(point: Point): void {
    if (!this.loaded) {
      this.buffered.push(point);
      return;
    }
    if (point.seq <= this.lastSeq) return; // already have it
    if (point.seq > this.lastSeq + 1) {
      void this.fillGap();
      return;
    }
    this.take(point);
    this.redraw();
  }

  setRun(run: Run): void {
    this.run = run;
    const parts = [`state: ${run.state}`];
    if (run.state === "queued" && run.queue_position) parts.push(`position in queue: ${run.queue_position}`);
    const progress = this.points.filter((p) => p.kind === "progress").at(-1);
    if (run.state === "running" && progress) {
      parts.push(`step ${progress.step}/${progress.values.steps}`, `ETA ${seconds(Number(progress.values.eta_seconds))}`);
    }
    if (run.error) parts.push(`error: ${run.error}`);
    if (run.model_version) parts.push(`model v${run.model_version}`);
    this.status.textContent = parts.join(" · ");
    this.status.dataset.state = run.state;
    (this.node.querySelector("button.danger") as HTMLButtonElement).hidden = !["queued", "running"].includes(run.state);
  }

  showStage(text: string): void {
    this.status.textContent = `state: ${this.run.state} · ${text}`;
    this.status.dataset.stage = text;
  }

  predictionsReady(): void {
    this.status.dataset.predictions = "ready";
  }

  stop(): void {
    this.lossChart.destroy();
    this.metricChart.destroy();
  }

  private take(point: Point): void {
    this.points.push(point);
    this.lastSeq = point.seq;
    if (point.kind === "preview") void this.showPreview(point);
  }

  private async fillGap(): Promise<void> {
    if (this.filling) return;
    this.filling = true;
    try {
      for (const metric of await runMetrics(this.run.id, this.lastSeq)) this.take(pointFromMetric(this.run.id, metric));
      this.redraw();
    } finally {
      this.filling = false;
    }
  }

  private redraw(): void {
    const progress = this.points.filter((p) => p.kind === "progress");
    this.lossChart.setData([progress.map((p) => p.step), progress.map((p) => Number(p.values.loss))]);
    const validation = this.points.filter((p) => p.kind === "validation");
    const metric = (p: Point, key: string): number => Number((p.values.metrics as Record<string, number>)[key] ?? NaN);
    this.metricChart.setData([
      validation.map((p) => p.step),
      validation.map((p) => metric(p, "pixel_f1")),
      validation.map((p) => metric(p, "iou")),
      ...this.classes.map((_, k) => validation.map((p) => metric(p, `f1_class_${k}`))),
    ]);
    this.node.dataset.points = String(this.points.length);
    this.node.dataset.validationPoints = String(validation.length);
    this.setRun(this.run);
  }

  private async showPreview(point: Point): Promise<void> {
    const imageId = Number(point.values.image);
    const map = await fetchMap(String(point.values.url));
    const overlay = new Overlay(map.width, map.height, this.palette);
    overlay.paint(map);
    overlay.canvas.title = `image ${imageId}, epoch ${point.epoch}`;
    const figure = h("figure", { "data-image": imageId }, overlay.canvas, h("figcaption", {}, `image ${imageId} · epoch ${point.epoch}`));
    const old = this.previewCanvases.get(imageId);
    if (old) old.replaceWith(figure);
    else this.previews.append(figure);
    this.previewCanvases.set(imageId, figure);
  }

  private async cancel(): Promise<void> {
    try {
      this.setRun(await postJSON<Run>(`/api/runs/${this.run.id}/cancel/`, {}));
    } catch (error) {
      this.status.textContent = `Could not cancel: ${errorText(error)}`;
    }
  }
}
