// A run's curve points, from the REST history or from the socket, in one shape, and what the
// training page draws of them. Pure: no DOM, no requests.
import type { RunPreviewEvent, RunProgressEvent, RunStageEvent, RunValidationEvent } from "../api/events.gen";
import { runPreviewUrl, type RunMetric } from "../api/runs";

/** The live events that are also stored as curve points (RunMetric rows with the same seq). */
export type RunPointEvent = RunProgressEvent | RunValidationEvent | RunPreviewEvent | RunStageEvent;

export interface CurvePoint {
  seq: number;
  kind: RunMetric["kind"];
  step: number;
  epoch: number;
  values: Record<string, unknown>;
}

/** How far a stage before the segmentation training is ("tags" runs: classifier, then Score-CAM). */
export interface StageProgress {
  stage: string;
  done: number;
  total: number;
}

/** A stage's progress (a run.stage event, or a stored "stage" point's values) as one line: "tag classifier 40/300". */
export function stageText({ stage, done, total }: RunStageEvent | StageProgress): string {
  const label = stage === "classifier" ? "tag classifier" : stage;
  return `${label} ${done}/${total}`;
}

export function pointFromEvent(event: RunPointEvent): CurvePoint {
  const { type, run: _run, seq, step, epoch, at: _at, ...values } = event;
  return { seq, kind: type.replace("run.", "") as CurvePoint["kind"], step, epoch, values };
}

export function pointFromMetric(runId: number, metric: RunMetric): CurvePoint {
  const values = { ...metric.values };
  if (metric.kind === "preview") values.url = runPreviewUrl(runId, metric.seq);
  return { seq: metric.seq, kind: metric.kind, step: metric.step, epoch: metric.epoch, values };
}

/** The stage a stored "stage" point reports (its values are the event's fields). */
export function stageOf(point: CurvePoint): StageProgress {
  return { stage: String(point.values.stage), done: Number(point.values.done), total: Number(point.values.total) };
}

/** The loss curve: [steps, losses] of the progress points ("stage" points have their own loss, not drawn). */
export function lossSeries(points: CurvePoint[]): [number[], number[]] {
  const progress = points.filter((p) => p.kind === "progress");
  return [progress.map((p) => p.step), progress.map((p) => Number(p.values.loss))];
}

/** The validation chart: steps, pixel F1, IoU, then the F1 of each of `classCount` classes. */
export function validationSeries(points: CurvePoint[], classCount: number): [number[], ...number[][]] {
  const validation = points.filter((p) => p.kind === "validation");
  const metric = (p: CurvePoint, key: string): number => Number((p.values.metrics as Record<string, number>)[key] ?? NaN);
  return [
    validation.map((p) => p.step),
    validation.map((p) => metric(p, "pixel_f1")),
    validation.map((p) => metric(p, "iou")),
    ...Array.from({ length: classCount }, (_, k) => validation.map((p) => metric(p, `f1_class_${k}`))),
  ];
}
