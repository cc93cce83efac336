// Projects, their label classes and their members (labeling/views.py).
import { allPages, getJSON, patchJSON, postJSON } from "./client";

export type Role = "owner" | "manager" | "annotator" | "viewer";

export interface Project {
  id: number;
  name: string;
  description: string;
  role: Role | null;
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

export const listProjects = (): Promise<Project[]> => allPages<Project>("/api/projects/");
export const getProject = (id: number): Promise<Project> => getJSON(`/api/projects/${id}/`);
export const createProject = (name: string, description: string): Promise<Project> =>
  postJSON("/api/projects/", { name, description });

export const listClasses = (projectId: number): Promise<LabelClass[]> => getJSON(`/api/projects/${projectId}/classes/`);
export const createClass = (projectId: number, name: string): Promise<LabelClass> =>
  postJSON(`/api/projects/${projectId}/classes/`, { name });
export const updateClass = (projectId: number, classId: number, change: Partial<LabelClass>): Promise<LabelClass> =>
  patchJSON(`/api/projects/${projectId}/classes/${classId}/`, change);

export const listMembers = (projectId: number): Promise<Member[]> => getJSON(`/api/projects/${projectId}/members/`);
export const addMember = (projectId: number, username: string, role: Role): Promise<Member> =>
  postJSON(`/api/projects/${projectId}/members/`, { username, role });
export const setMemberRole = (projectId: number, userId: number, role: Role): Promise<Member> =>
  patchJSON(`/api/projects/${projectId}/members/${userId}/`, { role });

/** The project's live-event socket (webapp/consumers.py), on this page's host. */
export function projectSocketUrl(projectId: number): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/projects/${projectId}/`;
}
