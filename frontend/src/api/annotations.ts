// Annotations of an image: the shared scribble layer, the dense mask, derived masks and tags,
// with their revisions (labeling/views.py AnnotationList, AnnotationRevisions, AnnotationMask).
import type { Stroke } from "../painter/raster";
import { getJSON, postForm, postJSON, withQuery } from "./client";

export type { Stroke } from "../painter/raster";

export type AnnotationKind = "scribble" | "dense" | "derived" | "tag" | "tiles" | "points";
/** The two layers people paint in the annotator. */
export type PaintedKind = "scribble" | "dense";

export interface Annotation {
  id: number;
  image: number;
  kind: AnnotationKind;
  key: string;
  label_class: number | null;
  version: number;
  is_deleted: boolean;
  updated_by: string;
  data: Record<string, unknown>;
  mask_url: string | null;
}

/** One saved version of a layer: its strokes, or a whole mask (has_mask), or its deletion. */
export interface Revision {
  version: number;
  author: string;
  created_at: string;
  /** provenance: where a whole mask came from (a model version's prediction, when accepted). */
  data: { strokes?: Stroke[]; provenance?: { source?: string; model_version?: number } };
  has_mask: boolean;
  is_deleted: boolean;
}

const annotationsUrl = (imageId: number): string => `/api/images/${imageId}/annotations/`;

export const listAnnotations = (imageId: number): Promise<Annotation[]> => getJSON(annotationsUrl(imageId));

/** The revisions of a layer saved after `after`, oldest first. */
export const listRevisions = (annotationId: number, after: number): Promise<Revision[]> =>
  getJSON(withQuery(`/api/annotations/${annotationId}/revisions/`, { after }));

/** The layer's label map as of `version` (a PNG; fetch it with api/maps.ts fetchMap). */
export const annotationMaskUrl = (annotationId: number, version: number): string =>
  withQuery(`/api/annotations/${annotationId}/mask.png`, { version });

/** Make the layer what it was at `version`, as a new revision; a 409 means someone saved since `baseVersion`. */
export const restoreRevision = (annotationId: number, version: number, baseVersion: number): Promise<Annotation> =>
  postJSON(`/api/annotations/${annotationId}/restore/`, { version, base_version: baseVersion });

/** Append strokes to a painted layer; a 409 means someone saved since `baseVersion`. */
export const saveStrokes = (imageId: number, kind: PaintedKind, baseVersion: number, strokes: Stroke[]): Promise<Annotation> =>
  postJSON(annotationsUrl(imageId), { kind, base_version: baseVersion, data: { strokes } });

/** Replace a painted layer with a whole mask (an 8-bit greyscale PNG). */
export function saveMask(imageId: number, kind: PaintedKind, baseVersion: number, png: Uint8Array): Promise<Annotation> {
  const form = new FormData();
  form.append("kind", kind);
  form.append("base_version", String(baseVersion));
  form.append("mask", new Blob([png as BlobPart], { type: "image/png" }), "mask.png");
  return postForm(annotationsUrl(imageId), form);
}

/** Tag the image: is there (any of) this class in it? */
export const saveTag = (imageId: number, labelClass: number, baseVersion: number, present: boolean): Promise<Annotation> =>
  postJSON(annotationsUrl(imageId), { kind: "tag", label_class: labelClass, base_version: baseVersion, data: { present } });

/** A tagged tile: x, y, width, height in image pixels, and whether the class is in it. */
export type TileTag = [number, number, number, number, boolean];

/** Replace a class's tile tags on the image with `tiles` (the whole set); a 409 means someone saved since `baseVersion`. */
export const saveTileTags = (imageId: number, labelClass: number, baseVersion: number, tiles: TileTag[]): Promise<Annotation> =>
  postJSON(annotationsUrl(imageId), { kind: "tiles", label_class: labelClass, base_version: baseVersion, data: { tiles } });

/** How an annotation import reads what it is given (labeling/serializers.py AnnotationImportIn). */
export interface ImportOptions {
  /** instances: every value of a label image is an object of `class_name`; classes: every value a class. */
  label_images: "instances" | "classes";
  class_name?: string;
  create_classes: boolean;
  /** Images that already have a dense mask: refuse the import, skip them, or add a new version. */
  existing: "refuse" | "skip" | "replace";
}

/** What an import did: the images given a dense layer, and what was skipped and why. */
export interface ImportResult {
  images: number[];
  objects: number;
  classes_created: string[];
  skipped: { image: string; reason: string }[];
  skipped_shapes: number;
}

/** Existing annotations in (label images, COCO JSON, GeoJSON or zips of them), all or nothing. */
export function importAnnotations(projectId: number, files: File[], options: ImportOptions): Promise<ImportResult> {
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  for (const [name, value] of Object.entries(options)) if (value !== undefined && value !== "") form.append(name, String(value));
  return postForm(`/api/projects/${projectId}/annotations/import/`, form);
}
