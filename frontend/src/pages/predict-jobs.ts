// Prediction jobs as a page shows them: the stored state read when the page opens, moved on by
// the socket's prediction.progress and prediction.done events. Pure, so the ordering rules are
// tested: an event older than what the page loaded never moves a job back.
import type { EventOf } from "../api/events.gen";
import type { PredictionJob, PredictionScope } from "../api/predict";

export type JobState = PredictionJob["state"];

export interface JobView {
  id: number;
  modelVersion: number;
  state: JobState;
  done: number;
  total: number;
  /** Images it could not predict. */
  skipped: number;
  error: string;
}

const RANK: Record<JobState, number> = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };

export const isActive = (job: JobView): boolean => RANK[job.state] < 2;

export function jobFromRecord(job: PredictionJob): JobView {
  return { id: job.id, modelVersion: job.model_version, state: job.state, done: job.done, total: job.total, skipped: job.skipped.length, error: job.error };
}

type JobEvent = EventOf<"prediction.progress"> | EventOf<"prediction.done">;

/** `shown` moved on by an event of its job (or the job as the event says, when the page did not know it). */
export function jobAfter(shown: JobView | undefined, event: JobEvent): JobView {
  return newer(shown, {
    id: event.job,
    modelVersion: event.model_version,
    state: event.state as JobState,
    done: event.done,
    total: event.total,
    skipped: "skipped" in event ? event.skipped.length : (shown?.skipped ?? 0),
    error: "error" in event ? event.error : (shown?.error ?? ""),
  });
}

/** What to show of a job known as `shown` and now said to be `next` (an event, or the server's record). */
export function newer(shown: JobView | undefined, next: JobView): JobView {
  if (!shown) return next;
  if (!isActive(shown)) return shown; // ended: nothing comes after that
  if (RANK[next.state] < RANK[shown.state] || (RANK[next.state] === RANK[shown.state] && next.done < shown.done)) return shown;
  return next;
}

/** The fraction through, 0..1. */
export const jobFraction = (job: JobView): number => (job.total ? Math.min(1, job.done / job.total) : 0);

export function jobText(job: JobView): string {
  const what = `Model v${job.modelVersion}`;
  const skipped = job.skipped ? `; ${job.skipped} could not be predicted` : "";
  switch (job.state) {
    case "queued":
      return `${what}: waiting for a worker (${job.total} image${job.total === 1 ? "" : "s"})`;
    case "running":
      return `${what}: ${job.done} of ${job.total} images${skipped}`;
    case "succeeded":
      return `${what}: done, ${job.done - job.skipped} of ${job.total} images predicted${skipped}`;
    case "failed":
      return `${what}: failed after ${job.done} of ${job.total} images: ${job.error || "no reason given"}`;
    case "cancelled":
      return `${what}: cancelled after ${job.done} of ${job.total} images`;
  }
}

/** The scope choices a predict form offers ("selected" only where the page has a selection). */
export const SCOPE_CHOICES: [string, string][] = [
  ["selected", "the selected images"],
  ["not_predicted", "images this version has not predicted"],
  ["all", "all images"],
  ["split:train", "the training split"],
  ["split:validation", "the validation split"],
  ["inference", "the inference-only images"],
];

/** The request body of a scope choice; a choice of the selection needs one. */
export function scopeOf(choice: string, selected: number[]): PredictionScope {
  if (choice === "selected") {
    if (!selected.length) throw new Error("Select images in the grid first (the boxes on their cards).");
    return { scope: "images", images: [...selected] };
  }
  if (choice.startsWith("split:")) return { scope: "split", split: choice.slice("split:".length) };
  if (choice === "all" || choice === "not_predicted" || choice === "inference") return { scope: choice };
  throw new Error(`Unknown scope ${choice}.`);
}
