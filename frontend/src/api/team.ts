// The team workflow (labeling/team_views.py): assignments, review moves and the review queue,
// comments, progress and the audit list.
import { allPages, getJSON, postJSON, withQuery } from "./client";

/** Where an image stands in review (labeling/workflow.py). */
export type ImageStatus = "todo" | "in_progress" | "submitted" | "changes_requested" | "approved";
export type Move = "submit" | "withdraw" | "approve" | "request_changes";

export const STATUSES: ImageStatus[] = ["todo", "in_progress", "submitted", "changes_requested", "approved"];
export const STATUS_LABELS: Record<ImageStatus, string> = {
  todo: "to do",
  in_progress: "in progress",
  submitted: "submitted",
  changes_requested: "changes requested",
  approved: "approved",
};

export interface StatusChange {
  move: string;
  previous: ImageStatus;
  status: ImageStatus;
  by: string;
  at: string;
  comment: number | null;
  note: string;
}

export interface ImageWork {
  image: number;
  status: ImageStatus;
  assignee: string | null;
  approved_layers: [number, number][];
  history: StatusChange[];
}

/** A submitted image waiting for review. */
export interface Waiting {
  image: number;
  name: string;
  submitted_by: string | null;
  submitted_at: string | null;
  assignee: string | null;
}

export interface Reply {
  id: number;
  author: string;
  body: string;
  created_at: string;
}

/** A comment thread: its first comment (pinned at x, y, or on the whole image) and its replies. */
export interface Thread extends Reply {
  image: number;
  image_name: string;
  x: number | null;
  y: number | null;
  resolved: boolean;
  resolved_by: string | null;
  replies: Reply[];
}

export interface Tally {
  assigned: number;
  statuses: Record<ImageStatus, number>;
  /** Class name -> labelled pixels. */
  pixels: Record<string, number>;
  active_seconds: number;
}

export interface Progress {
  images: number;
  classes: string[];
  project: Tally;
  members: { user: string; role: string; tally: Tally }[];
  counted_images: number;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  what: string;
  subject: string;
  details: Record<string, unknown>;
}

export const assignImages = (projectId: number, images: number[], assignee: string | null): Promise<{ images: number[]; assignee: string | null }> =>
  postJSON(`/api/projects/${projectId}/assignments/`, { images, assignee });
/** Deal the images nobody has labelled or taken evenly among `annotators` (all of them, or `count`). */
export const shareImages = (projectId: number, annotators: string[], count: number | null): Promise<{ shares: Record<string, number[]> }> =>
  postJSON(`/api/projects/${projectId}/assignments/share/`, { annotators, count });

export const imageWork = (imageId: number): Promise<ImageWork> => getJSON(`/api/images/${imageId}/status/`);
/** Move an image in review; a refused move rejects with the server's reason. */
export const moveImage = (imageId: number, move: Move, comment = "", at?: { x: number; y: number }): Promise<ImageWork> =>
  postJSON(`/api/images/${imageId}/status/`, { move, comment, x: at?.x ?? null, y: at?.y ?? null });
export const reviewQueue = (projectId: number): Promise<Waiting[]> => getJSON(`/api/projects/${projectId}/review-queue/`);

export const listThreads = (imageId: number): Promise<Thread[]> => getJSON(`/api/images/${imageId}/comments/`);
export const projectThreads = (projectId: number, resolved?: boolean): Promise<Thread[]> =>
  allPages<Thread>(withQuery(`/api/projects/${projectId}/comments/`, { resolved: resolved === undefined ? undefined : String(resolved) }));
/** A new thread (at a point, or on the whole image) or, with `replyTo`, a reply; answers the thread. */
export const addComment = (imageId: number, body: string, where: { x: number; y: number } | null, replyTo?: number): Promise<Thread> =>
  postJSON(`/api/images/${imageId}/comments/`, { body, x: where?.x ?? null, y: where?.y ?? null, reply_to: replyTo ?? null });
export const resolveThread = (commentId: number, resolved: boolean): Promise<Thread> =>
  postJSON(`/api/comments/${commentId}/resolve/`, { resolved });

export const getProgress = (projectId: number): Promise<Progress> => getJSON(`/api/projects/${projectId}/progress/`);
export const progressJsonUrl = (projectId: number): string => `/api/projects/${projectId}/progress/`;
export const progressCsvUrl = (projectId: number): string => `/api/projects/${projectId}/progress.csv`;
export const listAudit = (projectId: number): Promise<AuditEntry[]> => allPages<AuditEntry>(`/api/projects/${projectId}/audit/`);
