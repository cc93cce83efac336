// Run presets and the expected training time of a run (GET /api/projects/<id>/run-estimate/,
// training/runs/timing.py): measured on this installation's finished runs, or "unknown".

import { getJSON, withQuery } from "./client";

/** The sizes a preset sets; the run form's other options keep their own values. */
export interface PresetSizes {
  steps: number;
  steps_per_epoch: number;
  warmup_steps: number;
  batch_size: number;
  patch_size: number;
}

export interface RunEstimate extends PresetSizes {
  preset: string;
  /** The device runs are sized and timed for: "cpu" until a run has trained on a GPU here. */
  device: string;
  estimate: "measured" | "unknown";
  /** Expected training seconds; null while no run has finished on this installation. */
  seconds: number | null;
  measured_runs: number;
  /** Asked with strategy "tags": the tag classifier and Score-CAM maps; null until a tags run finished here. */
  tag_stage_seconds: number | null;
  tag_stage_runs: number;
  default_preset: string;
  presets: Record<string, PresetSizes>;
}

/** A tags run's options, whose classifier and maps the estimate adds (strategy "tags"). */
export interface TagStageQuery {
  strategy: "tags";
  tag_class: number;
  tile: number;
  classifier_steps: number;
}

export type EstimateQuery = Partial<PresetSizes> & Partial<TagStageQuery> & { preset?: string };

export const runEstimate = (projectId: number, query: EstimateQuery = {}): Promise<RunEstimate> =>
  getJSON(withQuery(`/api/projects/${projectId}/run-estimate/`, query));
