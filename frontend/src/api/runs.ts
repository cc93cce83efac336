// Training runs, their curves and previews, model versions and predictions, and guided
// labelling (training/api/views.py).
import type { ImageSummary } from "./images";
import { allPages, getJSON, postJSON, withQuery } from "./client";

export type RunState = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface Run {
  id: number;
  project: number;
  created_by: string;
  config: Record<string, unknown>;
  state: RunState;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: string;
  progress: Record<string, number>;
  queue_position: number | null;
  model_version: number | null;
}

/** A stored point of a run's curves; the same `seq` as the live event that announced it. */
export interface RunMetric {
  seq: number;
  kind: "progress" | "validation" | "preview" | "stage";
  step: number;
  epoch: number;
  values: Record<string, unknown>;
}

export interface ModelVersion {
  id: number;
  run: number | null;
  kind: string;
  config: Record<string, unknown>;
  metrics: Record<string, unknown>;
  created_at: string;
}

export interface Prediction {
  id: number;
  model_version: number;
  image: number;
  uncertainty: number;
  /** Objects per countable class (class index as text). */
  counts: Record<string, number>;
  created_at: string;
  mask_url: string;
  uncertainty_url: string;
  /** The objects as a 16-bit PNG instance map (0: none), or null without countable classes. */
  instances_url: string | null;
  measurements_url: string;
}

export const listRuns = (projectId: number): Promise<Run[]> => allPages<Run>(`/api/projects/${projectId}/runs/`);
export const getRun = (id: number): Promise<Run> => getJSON(`/api/runs/${id}/`);
/** Queue a run (training/runs/create.py run_create checks the config and says what is wrong). */
export const createRun = (projectId: number, config: Record<string, unknown>, warmStart?: number | null): Promise<Run> =>
  postJSON(`/api/projects/${projectId}/runs/`, warmStart === undefined ? { config } : { config, warm_start: warmStart });
export const cancelRun = (id: number): Promise<Run> => postJSON(`/api/runs/${id}/cancel/`, {});

/** The run's stored curve points with seq > `after`. */
export const runMetrics = (runId: number, after = 0): Promise<RunMetric[]> =>
  getJSON(withQuery(`/api/runs/${runId}/metrics/`, { after }));
/** The class map a "preview" point shows. */
export const runPreviewUrl = (runId: number, seq: number): string => `/api/runs/${runId}/previews/${seq}.png`;

/** Newest first. */
export const listModelVersions = (projectId: number): Promise<ModelVersion[]> =>
  allPages<ModelVersion>(`/api/projects/${projectId}/model-versions/`);
export const listPredictions = (projectId: number, query: { image?: number; model_version?: number }): Promise<Prediction[]> =>
  allPages<Prediction>(withQuery(`/api/projects/${projectId}/predictions/`, query));

/** Correct-and-retrain: a run warm-started from the version, with its options, on the labels of now. */
export const retrainFrom = (versionId: number): Promise<Run> => postJSON(`/api/model-versions/${versionId}/retrain/`, {});

/** The image that most needs labels, and why (GET /api/projects/<id>/next-image/, training/features/guidance.py). */
export interface NextImage {
  image: ImageSummary | null;
  reason: string;
  model_version: number | null;
  rank: number | null;
  of: number;
  uncertainty: number | null;
  has_labels: boolean | null;
}

export const nextImage = (projectId: number, after?: number): Promise<NextImage> =>
  getJSON(withQuery(`/api/projects/${projectId}/next-image/`, { after }));
