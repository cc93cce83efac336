// Images: listing, upload, their display renditions and tiles, and the stored instant preview
// (labeling/views.py, training/api/views.py InstantPreviewMask).
import { allPages, ApiError, csrfToken, getJSON, messageOf, safeJSON, withQuery } from "./client";
import type { ImageStatus } from "./team";

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
  split: Split;
  /** Micrometres per pixel, from the file's metadata or set by a manager (null: unknown). */
  pixel_size_x: number | null;
  pixel_size_y: number | null;
  /** The stack this plane belongs to (null: a 2-D image), its place in it and the stack's size. */
  stack: number | null;
  z: number;
  t: number;
  size_z: number;
  size_t: number;
  thumbnail_url: string;
  renditions_ready: boolean;
  channels: Channel[];
  label_kinds: string[];
  predicted: boolean;
  /** Where it stands in review, and who is asked to label it (api/team.ts). */
  status: ImageStatus;
  assignee: string | null;
  /** Objects per countable class in the newest version's prediction (null: not predicted). */
  object_counts: ObjectCounts | null;
}

export interface ObjectCounts {
  model_version: number;
  /** Class index (as text) -> objects. */
  counts: Record<string, number>;
}

export type Split = "train" | "validation" | "unassigned";

/** One plane of a stack: each is an image of its own, with its own labels. */
export interface Plane {
  id: number;
  z: number;
  t: number;
}

/** One image as its own page reads it: with every live plane of its stack ([] for a 2-D image). */
export interface ImageDetail extends ImageSummary {
  planes: Plane[];
}

/** What the pages of a multi-page TIFF without metadata are, as the uploader says. */
export type PagesAre = "channels" | "z" | "t";

export const listImages = (projectId: number): Promise<ImageSummary[]> =>
  allPages<ImageSummary>(`/api/projects/${projectId}/images/`);
export const getImage = (id: number): Promise<ImageDetail> => getJSON(`/api/images/${id}/`);

/** The thumbnail, asked for again whenever the image's label kinds change (it draws them). */
export const thumbnailUrl = (image: ImageSummary): string => withQuery(image.thumbnail_url, { v: image.label_kinds.length });

/** A channel's whole display rendition (8-bit PNG). */
export const channelDisplayUrl = (imageId: number, channel: string): string =>
  `/api/images/${imageId}/channels/${encodeURIComponent(channel)}/display.png`;

/** One display tile of a channel at a pyramid level (labeling/imageio.py TILE_SIZE square). */
export const channelTileUrl = (imageId: number, channel: string, tile: { level: number; col: number; row: number }): string =>
  `/api/images/${imageId}/channels/${encodeURIComponent(channel)}/tiles/${tile.level}/${tile.col}/${tile.row}.png`;

/** Upload files with progress (fetch cannot report upload progress; XHR can). A multi-page TIFF
 * without metadata is refused with code "pages_needed" (see `needsPages`) until `pages` says
 * what its pages are. */
export function uploadImages(
  projectId: number,
  files: File[],
  onProgress: (fraction: number) => void,
  pages?: PagesAre,
): Promise<ImageSummary[]> {
  const form = new FormData();
  for (const file of files) form.append("files", file);
  if (pages) form.append("pages", pages);
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
      else reject(new ApiError(xhr.status, messageOf(body, `upload failed (${xhr.status})`), body as Record<string, unknown>));
    };
    xhr.onerror = () => reject(new ApiError(0, "The upload was interrupted (network error)."));
    xhr.send(form);
  });
}

/** Whether the server refused an upload only because it must be told what a TIFF's pages are. */
export const needsPages = (error: unknown): boolean => error instanceof ApiError && error.status === 400 && error.body.code === "pages_needed";

/** What is known of an instant preview (training/features/instant.py), from its event or its headers. */
export interface PreviewInfo {
  seq: number;
  /** Unix seconds when the worker made it. */
  madeAt: number;
  /** Labelled images the fast model learnt from. */
  images: number;
}

/** The image's stored instant preview (its headers only), or null when it has none yet. */
export async function storedPreview(imageId: number): Promise<{ url: string; info: PreviewInfo } | null> {
  const url = `/api/images/${imageId}/instant-preview.png`;
  const response = await fetch(url, { method: "HEAD", credentials: "same-origin" });
  if (response.status === 204) return null; // none yet
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const seq = Number(response.headers.get("X-Preview-Seq"));
  const info = {
    seq,
    madeAt: Number(response.headers.get("X-Preview-Made-At")),
    images: Number(response.headers.get("X-Preview-Images") ?? 0),
  };
  return { url: withQuery(url, { seq }), info };
}
