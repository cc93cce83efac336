// Projects, their label classes, their members and invitations (labeling/views.py,
// labeling/invitation_views.py).
import { allPages, deleteJSON, getJSON, patchJSON, postJSON } from "./client";

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

/** An owner's offer of a role, to a user name; it makes a member only once accepted. */
export interface Invitation {
  id: number;
  project: number;
  project_name: string;
  username: string;
  role: Role;
  invited_by: string | null;
  created_at: string;
  expires_at: string;
}

/** The answer to an invitation: the same words whether or not the user name exists. */
export interface InvitationSent {
  detail: string;
  invitation: Invitation;
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
export const setMemberRole = (projectId: number, userId: number, role: Role): Promise<Member> =>
  patchJSON(`/api/projects/${projectId}/members/${userId}/`, { role });

export const inviteMember = (projectId: number, username: string, role: Role): Promise<InvitationSent> =>
  postJSON(`/api/projects/${projectId}/invitations/`, { username, role });
export const listProjectInvitations = (projectId: number): Promise<Invitation[]> =>
  getJSON(`/api/projects/${projectId}/invitations/`);
export const withdrawInvitation = (projectId: number, invitationId: number): Promise<null> =>
  deleteJSON(`/api/projects/${projectId}/invitations/${invitationId}/`);
/** The invitations waiting for the signed-in user's answer. */
export const listMyInvitations = (): Promise<Invitation[]> => allPages<Invitation>("/api/invitations/");
export const acceptInvitation = (invitationId: number): Promise<Member> =>
  postJSON(`/api/invitations/${invitationId}/accept/`, {});
export const declineInvitation = (invitationId: number): Promise<null> =>
  postJSON(`/api/invitations/${invitationId}/decline/`, {});

/** The project's live-event socket (webapp/consumers.py), on this page's host. */
export function projectSocketUrl(projectId: number): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/projects/${projectId}/`;
}
