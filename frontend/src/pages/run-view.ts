// One run followed live on the training page: its state, loss and validation curves, stage
// progress and preview predictions.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { fetchMap } from "../api/maps";
import type { LabelClass } from "../api/projects";
import { cancelRun, runMetrics, type Run } from "../api/runs";
import { paintLabelMapRGBA, type Palette } from "../painter/colors";
import type { LabelMap } from "../painter/labelmap";
import { errorText, h, seconds } from "../ui";
import { lossSeries, pointFromEvent, pointFromMetric, stageOf, stageText, validationSeries, type CurvePoint, type RunPointEvent } from "./run-points";

const CHART_SIZE = { width: 520, height: 200 };

function lossChart(box: HTMLElement): uPlot {
  const series = [{ label: "step" }, { label: "loss", stroke: "#d9480f", width: 2 }];
  return new uPlot({ ...CHART_SIZE, title: "training loss", scales: { x: { time: false } }, series }, [[], []], box);
}

/** Pixel F1, IoU and the F1 of each class (dashed, in its colour) against the step. */
function validationChart(box: HTMLElement, classes: LabelClass[]): uPlot {
  const series = [
    { label: "step" },
    { label: "pixel F1", stroke: "#1971c2", width: 2 },
    { label: "IoU", stroke: "#2f9e44", width: 2 },
    ...classes.map((c) => ({ label: `F1 ${c.name}`, stroke: c.color, dash: [4, 4] })),
  ];
  const options = { ...CHART_SIZE, title: "validation", scales: { x: { time: false }, y: { range: [0, 1] as [number, number] } }, series };
  return new uPlot(options, [[], [], [], ...classes.map(() => [])], box);
}

/** A label map as a canvas of its own size, each class in its colour. */
function labelMapCanvas(map: LabelMap, palette: Palette): HTMLCanvasElement {
  const canvas = Object.assign(document.createElement("canvas"), { width: map.width, height: map.height });
  const context = canvas.getContext("2d") as CanvasRenderingContext2D;
  const image = context.createImageData(map.width, map.height);
  paintLabelMapRGBA(map, palette, 255, image.data);
  context.putImageData(image, 0, 0);
  return canvas;
}

/**
 * The socket's points are buffered until the stored history has loaded, then only points past
 * the last known `seq` are taken; a gap (a dropped socket) is filled from the REST API. So the
 * curve has every point once, in order.
 */
export class RunView {
  readonly node: HTMLElement;
  private points: CurvePoint[] = [];
  private lastSeq = 0;
  private loaded = false;
  private buffered: CurvePoint[] = [];
  private filling = false;
  private readonly status = h("p", { class: "run-status", "data-testid": "run-status" });
  private readonly cancelButton = h("button", { class: "danger", onclick: () => void this.cancel() }, "Cancel run");
  private readonly lossChart: uPlot;
  private readonly validationChart: uPlot;
  private readonly previews = h("div", { class: "previews", "data-testid": "previews" });
  private readonly previewFigures = new Map<number, HTMLElement>();

  constructor(
    public run: Run,
    private readonly classes: LabelClass[], // sorted by index: model class k is classes[k]
    private readonly palette: Palette,
  ) {
    const lossBox = h("div", { class: "chart", "data-testid": "loss-chart" });
    const metricBox = h("div", { class: "chart", "data-testid": "metric-chart" });
    this.node = h("div", {}, h("h2", {}, `Run #${run.id}`, " ", this.cancelButton), this.status, lossBox, metricBox, h("h3", {}, "Preview predictions"), this.previews);
    this.lossChart = lossChart(lossBox);
    this.validationChart = validationChart(metricBox, classes);
    this.setRun(run);
  }

  async load(): Promise<void> {
    const stored = await runMetrics(this.run.id);
    for (const metric of stored) this.take(pointFromMetric(this.run.id, metric));
    this.loaded = true;
    for (const point of this.buffered) this.receive(point);
    this.buffered = [];
    this.redraw();
    const stage = this.points.filter((p) => p.kind === "stage").at(-1);
    if (stage && this.run.state === "running") this.showStage(stageText(stageOf(stage)));
  }

  /** A live event of this run's curves (events of other runs are not for this view). */
  receiveEvent(event: RunPointEvent): void {
    if (event.run === this.run.id) this.receive(pointFromEvent(event));
  }

  receive(point: CurvePoint): void {
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
    this.cancelButton.hidden = !["queued", "running"].includes(run.state);
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
    this.validationChart.destroy();
  }

  private take(point: CurvePoint): void {
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
    this.lossChart.setData(lossSeries(this.points));
    const validation = validationSeries(this.points, this.classes.length);
    this.validationChart.setData(validation);
    this.node.dataset.points = String(this.points.length);
    this.node.dataset.validationPoints = String(validation[0].length);
    this.setRun(this.run);
  }

  private async showPreview(point: CurvePoint): Promise<void> {
    const imageId = Number(point.values.image);
    const canvas = labelMapCanvas(await fetchMap(String(point.values.url)), this.palette);
    canvas.title = `image ${imageId}, epoch ${point.epoch}`;
    const figure = h("figure", { "data-image": imageId }, canvas, h("figcaption", {}, `image ${imageId} · epoch ${point.epoch}`));
    const old = this.previewFigures.get(imageId);
    if (old) old.replaceWith(figure);
    else this.previews.append(figure);
    this.previewFigures.set(imageId, figure);
  }

  private async cancel(): Promise<void> {
    try {
      this.setRun(await cancelRun(this.run.id));
    } catch (error) {
      this.status.textContent = `Could not cancel: ${errorText(error)}`;
    }
  }
}
