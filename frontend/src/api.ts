// Typed access to the Lesslabel REST API with the browser's session cookie.

export interface Project {
  id: number;
  name: string;
  description: string;
  role: string | null;
}

export interface ImageSummary {
  id: number;
  name: string;
  width: number;
  height: number;
  split: string;
  thumbnail_url: string;
  channels: { name: string }[];
}

interface Page<T> {
  count: number;
  results: T[];
}

export async function getJSON<T>(url: string): Promise<T> {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`${url}: ${response.status} ${response.statusText}`);
  }
  return (await response.json()) as T;
}

export async function listProjects(): Promise<Project[]> {
  return (await getJSON<Page<Project>>("/api/projects/")).results;
}

export async function listImages(projectId: number): Promise<ImageSummary[]> {
  return (await getJSON<Page<ImageSummary>>(`/api/projects/${projectId}/images/`)).results;
}
