// The maths of the label-efficiency chart (pages/study.ts): pixel F1 against the number of
// labelled images on a log2 axis, the gain of the last doubling as a sentence, and how a
// point's live update merges into what the page already has. Pure: no DOM.
import type { StudyPoint } from "../api/study";

export type { StudyPoint } from "../api/study";

export interface Gain {
  smaller: number;
  larger: number;
  pixel_f1: number;
}

/** Below this, another doubling of the labels is not worth it (pixel F1, 0..1). */
export const SMALL_GAIN = 0.01;

const STATE_RANK: Record<string, number> = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };

/** x position of a size on a log2 axis spanning the study's sizes (one size: the middle). */
export function log2Scale(sizes: number[], left: number, right: number): (size: number) => number {
  const low = Math.log2(Math.min(...sizes));
  const high = Math.log2(Math.max(...sizes));
  if (!(high > low)) return () => (left + right) / 2;
  return (size) => left + ((Math.log2(size) - low) / (high - low)) * (right - left);
}

/** Maps [d0, d1] onto [r0, r1] (r0 > r1 for a y axis that grows upwards). */
export function linearScale([d0, d1]: [number, number], [r0, r1]: [number, number]): (value: number) => number {
  return (value) => r0 + ((value - d0) / (d1 - d0)) * (r1 - r0);
}

/** The F1 range to show: up to 1, down to a tenth below the lowest score (0 at least). */
export function f1Domain(points: StudyPoint[]): [number, number] {
  const scores = points.flatMap((p) => (p.pixel_f1 === null ? [] : [p.pixel_f1]));
  if (!scores.length) return [0, 1];
  const low = Math.floor((Math.min(...scores) - 0.05) * 10) / 10;
  return [Math.max(0, Math.min(0.9, low)), 1];
}

/** Gridlines for an F1 domain: every 0.1, or every 0.2 when the domain is wider than a half. */
export function f1Ticks([low, high]: [number, number]): number[] {
  const step = high - low > 0.5 ? 0.2 : 0.1;
  const ticks: number[] = [];
  for (let k = Math.max(0, Math.ceil(low / step - 1e-9)); k * step <= high + 1e-9; k++) ticks.push(Math.round(k * step * 100) / 100);
  return ticks;
}

/** Scored points, smallest first. */
export function scored(points: StudyPoint[]): StudyPoint[] {
  return points.filter((p) => p.pixel_f1 !== null).sort((a, b) => a.size - b.size);
}

/** The SVG path through the scored points, left to right ("" with none). */
export function curvePath(points: StudyPoint[], x: (size: number) => number, y: (f1: number) => number): string {
  return scored(points)
    .map((p, k) => `${k ? "L" : "M"}${x(p.size).toFixed(1)} ${y(p.pixel_f1 as number).toFixed(1)}`)
    .join(" ");
}

/** What the largest scored size added over the scored size just below it (as the API's `gain`). */
export function lastGain(points: StudyPoint[]): Gain | null {
  const done = scored(points);
  if (done.length < 2) return null;
  const [smaller, larger] = done.slice(-2);
  return { smaller: smaller.size, larger: larger.size, pixel_f1: (larger.pixel_f1 as number) - (smaller.pixel_f1 as number) };
}

/** "Going from 4 to 8 images added +0.030 pixel F1: more labels still help." */
export function gainText(gain: Gain | null): string {
  if (!gain) return "The gain of the last doubling shows once two sizes are scored.";
  const sign = gain.pixel_f1 < 0 ? "−" : "+";
  const verdict = gain.pixel_f1 < SMALL_GAIN ? "more labels of this kind barely help now" : "more labels still help";
  return `Going from ${gain.smaller} to ${gain.larger} images added ${sign}${Math.abs(gain.pixel_f1).toFixed(3)} pixel F1: ${verdict}.`;
}

/**
 * A point's update (from the socket or the API) merged into the points so far. Updates may
 * arrive late (a socket event sent before the page loaded the study): one that would move a
 * point back (finished -> running) is ignored, so the page only ever moves forward.
 */
export function mergePoint(points: StudyPoint[], update: Partial<StudyPoint> & { size: number }): StudyPoint[] {
  const old = points.find((p) => p.size === update.size);
  if (old && (STATE_RANK[update.state ?? old.state] ?? 0) < (STATE_RANK[old.state] ?? 0)) return points;
  const merged: StudyPoint = {
    run: 0,
    state: "queued",
    model_version: null,
    pixel_f1: null,
    train_images: null,
    ...old,
    ...Object.fromEntries(Object.entries(update).filter(([, value]) => value !== undefined)),
  } as StudyPoint;
  return [...points.filter((p) => p.size !== update.size), merged].sort((a, b) => a.size - b.size);
}
