// Label-efficiency studies (training/features/study.py): "how many labels do I need?".
import { getJSON, postJSON, withQuery } from "./client";
import type { StudyPointEvent } from "./events.gen";

/** One size of a study: the run that trains on the first `size` labelled images, and its score (as its event says it). */
export type StudyPoint = Omit<StudyPointEvent, "type" | "at" | "study">;

export interface Study {
  id: number;
  created_by: string;
  config: Record<string, unknown>;
  sizes: number[];
  state: string;
  created_at: string;
  points: StudyPoint[];
}

/** What a study with these label sources would train, before it is started. */
export interface StudyPlan {
  sizes: number[];
  train_images: number;
  validation_images: number;
}

/** The project's latest studies (one page of 50 is plenty for the list). */
export const listStudies = async (projectId: number): Promise<Study[]> =>
  (await getJSON<{ results: Study[] }>(withQuery(`/api/projects/${projectId}/studies/`, { limit: 50 }))).results;
export const getStudy = (id: number): Promise<Study> => getJSON(`/api/studies/${id}/`);
export const planStudy = (projectId: number, labelSources: string[]): Promise<StudyPlan> =>
  getJSON(withQuery(`/api/projects/${projectId}/studies/plan/`, labelSources.map((source): [string, string] => ["label_sources", source])));
export const createStudy = (projectId: number, config: Record<string, unknown>): Promise<Study> =>
  postJSON(`/api/projects/${projectId}/studies/`, { config });
export const cancelStudy = (id: number): Promise<Study> => postJSON(`/api/studies/${id}/cancel/`, {});
