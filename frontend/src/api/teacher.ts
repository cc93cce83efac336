// The fluorescence teacher (training/features/teacher.py): tune the classical nucleus pipeline on one
// image, apply it to all, exclude images.
import { getJSON, postJSON } from "./client";

export type ParamValue = number | string | boolean;
export type Params = Record<string, ParamValue>;

export interface TeacherImage {
  id: number;
  name: string;
  width: number;
  height: number;
  channels: string[];
  state: "none" | "teacher" | "kept" | "excluded";
}

export type Outcome = "made" | "unchanged" | "kept" | "excluded" | "missing";

/** The project's last "apply to all" job, as the server keeps it (training/features/teacher.py latest_job). */
export interface TeacherJobState {
  job: string;
  state: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  done: number;
  total: number;
  summary: Partial<Record<Outcome, number[]>>;
  error: string;
  idle_seconds: number;
}

export interface TeacherOverview {
  source: string;
  channel: string;
  defaults: Params;
  job: TeacherJobState | null;
  images: TeacherImage[];
}

/** What the pipeline is run with: the stain channel and the knobs. */
export interface TeacherSettings {
  channel: string;
  params: Params;
}

export interface TeacherPreview {
  objects: number;
  /** A data: URL of the nuclei found, drawn over the image. */
  overlay: string;
  params: Params;
}

export const teacherOverview = (projectId: number): Promise<TeacherOverview> =>
  getJSON(`/api/projects/${projectId}/fluorescence-teacher/`);
export const teacherPreview = (imageId: number, settings: TeacherSettings): Promise<TeacherPreview> =>
  postJSON(`/api/images/${imageId}/fluorescence-teacher/preview/`, settings);
/** Leave an image out of "apply to all" (exclude), or take it back (include). */
export const teacherExclude = (imageId: number, excluded: boolean, settings: TeacherSettings): Promise<{ state: TeacherImage["state"] }> =>
  postJSON(`/api/images/${imageId}/fluorescence-teacher/${excluded ? "exclude" : "include"}/`, settings);
export const teacherApply = (projectId: number, settings: TeacherSettings): Promise<{ job: string; total: number }> =>
  postJSON(`/api/projects/${projectId}/fluorescence-teacher/apply/`, settings);
