// The run form's preset and expected duration, as pure functions of its values: which preset the
// sizes match, the estimate query they make, and how the answer reads.
import type { EstimateQuery, PresetSizes, RunEstimate, TagStageQuery } from "../api/estimate";
import { warmupSteps } from "./run-config";

export const CUSTOM = "custom";

/** The run form's size fields (it asks for epochs x steps per epoch rather than steps). */
export interface SizeFields {
  epochs: number;
  stepsPerEpoch: number;
  patchSize: number;
  batchSize: number;
}

export const fieldsOf = (sizes: PresetSizes): SizeFields => ({
  epochs: Math.max(1, Math.round(sizes.steps / sizes.steps_per_epoch)),
  stepsPerEpoch: sizes.steps_per_epoch,
  patchSize: sizes.patch_size,
  batchSize: sizes.batch_size,
});

/** The sizes the form sends (run-config.ts): warm-up is a tenth of the steps, at most 50. */
export const sizesOf = (fields: SizeFields): PresetSizes => ({
  steps: fields.epochs * fields.stepsPerEpoch,
  steps_per_epoch: fields.stepsPerEpoch,
  warmup_steps: warmupSteps(fields.epochs * fields.stepsPerEpoch),
  batch_size: fields.batchSize,
  patch_size: fields.patchSize,
});

/** The preset whose sizes these are, or CUSTOM when the fields were changed from every preset. */
export function matchingPreset(sizes: PresetSizes, presets: Record<string, PresetSizes>): string {
  const same = (preset: PresetSizes): boolean =>
    (Object.keys(sizes) as (keyof PresetSizes)[]).every((key) => preset[key] === sizes[key]);
  return Object.keys(presets).find((name) => same(presets[name])) ?? CUSTOM;
}

/** What to ask the server: the preset by name (none for custom sizes) and the sizes, which win;
 * for a tags run, its classifier's options too. */
export const estimateQuery = (preset: string, sizes: PresetSizes, tags?: TagStageQuery): EstimateQuery => ({
  ...(preset === CUSTOM ? {} : { preset }),
  ...sizes,
  ...tags,
});

/** "under a minute", "about 4 min", "about 1 h 20 min". */
export function durationText(seconds: number): string {
  if (seconds < 60) return "under a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  const rest = minutes % 60;
  return `about ${Math.floor(minutes / 60)} h${rest ? ` ${rest} min` : ""}`;
}

const DEVICES: Record<string, string> = { cpu: "the CPU", cuda: "the GPU" };

const finishedRuns = (count: number, kind = ""): string => `${count} finished ${kind}run${count === 1 ? "" : "s"}`;

/** The estimate line under the form's sizes: measured here, or unknown (never a guess); with
 * `tags`, the tag classifier and maps a tags run trains first. */
export function estimateText(estimate: RunEstimate, tags = false): string {
  const device = DEVICES[estimate.device] ?? estimate.device;
  const training =
    estimate.seconds === null
      ? `Expected training time on ${device}: unknown until a run has finished here.`
      : `Expected training time on ${device}: ${durationText(estimate.seconds)} (from the step times of ${finishedRuns(estimate.measured_runs)} here).`;
  if (!tags) return training;
  const first = "The tag classifier and Score-CAM maps come first:";
  if (estimate.tag_stage_seconds === null) return `${training} ${first} unknown until a tags run has finished here.`;
  const from = finishedRuns(estimate.tag_stage_runs, "tags ");
  return `${training} ${first} ${durationText(estimate.tag_stage_seconds)} more (from ${from} here).`;
}
