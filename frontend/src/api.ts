// Typed access to the Lesslabel REST API with the browser's session cookie.
// Every write sends Django's CSRF token; every failure becomes an ApiError with the server's
// own message, so pages can show it as it is.

export type Role = "owner" | "manager" | "annotator" | "viewer";

export interface Project {
  id: number;
  name: string;
  description: string;
  role: Role | null;
}

export interface Channel {
  name: string;
  index: number;
  display_url: string;
}

export interface ImageSummary {
  id: number;
  project: number;
  name: string;
  width: number;
  height: number;
  split: string;
  thumbnail_url: string;
  renditions_ready: boolean;
  channels: Channel[];
  label_kinds: string[];
  predicted: boolean;
}

export interface LabelClass {
  id: number;
  name: string;
  color: string;
  index: number;
  countable: boolean;
}

export interface Member {
  user_id: number;
  username: string;
  role: Role;
}

export interface Annotation {
  id: number;
  image: number;
  kind: "scribble" | "dense" | "derived" | "tag" | "points";
  key: string;
  label_class: number | null;
  version: number;
  is_deleted: boolean;
  updated_by: string;
  data: Record<string, unknown>;
  mask_url: string | null;
}

export interface Stroke {
  class_index: number;
  radius: number;
  points: [number, number][];
}

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

export interface RunMetric {
  seq: number;
  kind: "progress" | "validation" | "preview";
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
  mask_url: string;
}

interface Page<T> {
  count: number;
  results: T[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** The server's message: DRF's {"detail": ...} or the first field error. */
function messageOf(body: unknown, fallback: string): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.detail === "string") return record.detail;
    for (const [field, value] of Object.entries(record)) {
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === "string") return field === "non_field_errors" ? first : `${field}: ${first}`;
    }
  }
  return fallback;
}

async function request<T>(method: string, url: string, body?: BodyInit, json = false): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (json) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, body, credentials: "same-origin", headers });
  const text = await response.text();
  const parsed: unknown = text ? safeJSON(text) : null;
  if (!response.ok) {
    const record = parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
    throw new ApiError(response.status, messageOf(parsed, `${response.status} ${response.statusText}`), record);
  }
  return parsed as T;
}

function safeJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

export const getJSON = <T>(url: string): Promise<T> => request<T>("GET", url);
export const postJSON = <T>(url: string, body: unknown): Promise<T> =>
  request<T>("POST", url, JSON.stringify(body), true);
export const patchJSON = <T>(url: string, body: unknown): Promise<T> =>
  request<T>("PATCH", url, JSON.stringify(body), true);
export const postForm = <T>(url: string, form: FormData): Promise<T> => request<T>("POST", url, form);
export const deleteAt = (url: string): Promise<void> => request<void>("DELETE", url);

async function allPages<T>(url: string): Promise<T[]> {
  const items: T[] = [];
  let next: string | null = url;
  while (next) {
    const page: Page<T> & { next?: string | null } = await getJSON(next);
    items.push(...page.results);
    next = page.next ?? null;
  }
  return items;
}

export const listProjects = (): Promise<Project[]> => allPages<Project>("/api/projects/");
export const getProject = (id: number): Promise<Project> => getJSON(`/api/projects/${id}/`);
export const createProject = (name: string, description: string): Promise<Project> =>
  postJSON("/api/projects/", { name, description });
export const listImages = (projectId: number): Promise<ImageSummary[]> =>
  allPages<ImageSummary>(`/api/projects/${projectId}/images/`);
export const getImage = (id: number): Promise<ImageSummary> => getJSON(`/api/images/${id}/`);
export const listClasses = (projectId: number): Promise<LabelClass[]> =>
  getJSON(`/api/projects/${projectId}/classes/`);
export const listMembers = (projectId: number): Promise<Member[]> =>
  getJSON(`/api/projects/${projectId}/members/`);
export const listAnnotations = (imageId: number): Promise<Annotation[]> =>
  getJSON(`/api/images/${imageId}/annotations/`);
export const listRuns = (projectId: number): Promise<Run[]> => allPages<Run>(`/api/projects/${projectId}/runs/`);
export const getRun = (id: number): Promise<Run> => getJSON(`/api/runs/${id}/`);
export const listModelVersions = (projectId: number): Promise<ModelVersion[]> =>
  allPages<ModelVersion>(`/api/projects/${projectId}/model-versions/`);
export const listPredictions = (projectId: number, query: { image?: number; model_version?: number }): Promise<Prediction[]> => {
  const params = new URLSearchParams(Object.entries(query).map(([key, value]) => [key, String(value)]));
  return allPages<Prediction>(`/api/projects/${projectId}/predictions/?${params}`);
};

export const runMetrics = (runId: number, after = 0): Promise<RunMetric[]> =>
  getJSON(`/api/runs/${runId}/metrics/?after=${after}`);

/** Upload files with progress (fetch cannot report upload progress; XHR can). */
export function uploadImages(
  projectId: number,
  files: File[],
  onProgress: (fraction: number) => void,
): Promise<ImageSummary[]> {
  const form = new FormData();
  for (const file of files) form.append("files", file);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/projects/${projectId}/images/`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      const body = safeJSON(xhr.responseText || "{}");
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as ImageSummary[]);
      else reject(new ApiError(xhr.status, messageOf(body, `upload failed (${xhr.status})`)));
    };
    xhr.onerror = () => reject(new ApiError(0, "The upload was interrupted (network error)."));
    xhr.send(form);
  });
}

// Guided labelling (training/guidance.py) --------------------------------------------------

/** The image that most needs labels, and why (GET /api/projects/<id>/next-image/). */
export interface NextImage {
  image: ImageSummary | null;
  reason: string;
  model_version: number | null;
  rank: number | null;
  of: number;
  uncertainty: number | null;
  has_labels: boolean | null;
}

export interface RankedImage {
  rank: number;
  image: number;
  name: string;
  uncertainty: number | null;
  model_version: number | null;
  has_labels: boolean;
}

export const nextImage = (projectId: number, after?: number): Promise<NextImage> =>
  getJSON(`/api/projects/${projectId}/next-image/${after === undefined ? "" : `?after=${after}`}`);
export const uncertaintyRanking = (projectId: number): Promise<RankedImage[]> =>
  getJSON(`/api/projects/${projectId}/uncertainty-ranking/`);
/** Correct-and-retrain: a run warm-started from the version, with its options, on the labels of now. */
export const retrainFrom = (versionId: number): Promise<Run> => postJSON(`/api/model-versions/${versionId}/retrain/`, {});
