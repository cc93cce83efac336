// The fluorescence teacher's knobs as the page shows them, and its job as a line of text. Pure:
// no requests, so the tests can check them without a server.
import type { Outcome, ParamValue, TeacherJobState } from "../api/teacher";

/** A job that has not moved for this long is waiting for a worker (a dead one's job is redelivered). */
export const STALLED_SECONDS = 60;

/** One knob of the pipeline: how the page shows it. */
export interface ParamSpec {
  name: string;
  label: string;
  kind: "range" | "number" | "select" | "checkbox";
  min?: number;
  max?: number;
  step?: number;
  options?: string[];
}

export const PARAM_SPECS: ParamSpec[] = [
  { name: "sigma", label: "Smoothing σ (px)", kind: "range", min: 0, max: 10, step: 0.5 },
  { name: "threshold", label: "Threshold", kind: "select", options: ["local", "otsu"] },
  { name: "block_size", label: "Local block (px, odd)", kind: "range", min: 3, max: 301, step: 2 },
  { name: "offset", label: "Local offset (noise σ)", kind: "range", min: -10, max: 30, step: 0.5 },
  { name: "min_contrast", label: "Min contrast (noise σ)", kind: "range", min: 0, max: 50, step: 0.5 },
  { name: "peak_fraction", label: "Peak fraction (0 off)", kind: "range", min: 0, max: 0.95, step: 0.05 },
  { name: "fill_holes", label: "Fill holes", kind: "checkbox" },
  { name: "min_area", label: "Min area (px)", kind: "number", min: 1, max: 100000, step: 1 },
  { name: "max_area", label: "Max area (px, 0 = none)", kind: "number", min: 0, max: 10000000, step: 1 },
  { name: "split", label: "Split touching nuclei", kind: "checkbox" },
  { name: "min_distance", label: "Min seed distance (px)", kind: "range", min: 1, max: 50, step: 1 },
];

/** The value an input holds, in the type the server expects for that knob. */
export function readInput(spec: ParamSpec, input: HTMLInputElement | HTMLSelectElement): ParamValue {
  if (spec.kind === "checkbox") return (input as HTMLInputElement).checked;
  if (spec.kind === "select") return input.value;
  return Number(input.value);
}

/** The line under the progress bar once a job has finished. */
export function finishedText(summary: Partial<Record<Outcome, number[]>>): string {
  const count = (outcome: Outcome) => (summary[outcome] ?? []).length;
  return `done: ${count("made")} made, ${count("unchanged")} unchanged, ${count("kept")} kept (edited by a person), ${count("excluded")} excluded`;
}

/** The line under the progress bar for a job the page finds when it opens (or reopens). */
export function jobText(job: TeacherJobState): string {
  if (job.state === "succeeded") return finishedText(job.summary);
  if (job.state === "failed") return `failed: ${job.error}`;
  if (job.state === "cancelled") return "cancelled";
  const where = job.state === "queued" ? `queued: ${job.total} image(s)` : `${job.done} / ${job.total} images`;
  if (job.idle_seconds < STALLED_SECONDS) return where;
  return `${where}; no progress for ${Math.round(job.idle_seconds)} s: waiting for a worker (it carries on where it stopped)`;
}

/** Calls `run` once, `delayMs` after the last of a burst of calls. */
export function debounce(run: () => void, delayMs: number): { call(): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return {
    call() {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        run();
      }, delayMs);
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
