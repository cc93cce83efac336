// Prediction jobs, a prediction's objects and accepting it as labels (training/api/views.py
// ModelVersionPredict, PredictionJob*, PredictionInstances, PredictionAccept).
import type { Annotation } from "./annotations";
import { allPages, getJSON, postJSON } from "./client";
import type { RunState } from "./runs";

/** Which images a job predicts (training/predict/job.py Selection). */
export type PredictionScope =
  | { scope: "images"; images: number[] }
  | { scope: "split"; split: string }
  | { scope: "all" }
  | { scope: "not_predicted" }
  | { scope: "inference" };

export interface PredictionJob {
  id: number;
  project: number;
  model_version: number;
  created_by: string;
  /** "request": someone asked for it; "run": scoring after training. */
  origin: string;
  selection: Record<string, unknown>;
  state: RunState;
  cancel_requested: boolean;
  done: number;
  total: number;
  skipped: { image: number; name: string; reason: string }[];
  error: string;
  created_at: string;
  finished_at: string | null;
}

/** Start a job (managers); 400 says what is wrong with the selection, 409 when too many run. */
export const startPrediction = (versionId: number, selection: PredictionScope): Promise<PredictionJob> =>
  postJSON(`/api/model-versions/${versionId}/predict/`, selection);
/** The project's jobs, newest first. */
export const listPredictionJobs = (projectId: number): Promise<PredictionJob[]> =>
  allPages<PredictionJob>(`/api/projects/${projectId}/prediction-jobs/`);
export const getPredictionJob = (id: number): Promise<PredictionJob> => getJSON(`/api/prediction-jobs/${id}/`);
/** A queued job ends at once, a running one after its current image. */
export const cancelPrediction = (id: number): Promise<PredictionJob> => postJSON(`/api/prediction-jobs/${id}/cancel/`, {});

/** Make the prediction the image's dense mask, as a new revision; 409 when `baseVersion` is not the layer's version. */
export const acceptPrediction = (predictionId: number, baseVersion: number): Promise<Annotation> =>
  postJSON(`/api/predictions/${predictionId}/accept/`, { base_version: baseVersion });

/** Objects per countable class and one row per object (training/predict/exports.py names the columns). */
export interface Measurements {
  counts: Record<string, number>;
  columns: string[];
  objects: Record<string, unknown>[];
}

/** The image's dense mask counted and measured as predictions are (400 with what to do when it has none). */
export const denseMeasurements = (imageId: number): Promise<Measurements> => getJSON(`/api/images/${imageId}/dense/measurements/`);
/** A prediction's objects as CSV, one row each, with the image's name and the model version. */
export const predictionCsvUrl = (predictionId: number): string => `/api/predictions/${predictionId}/measurements.csv`;
