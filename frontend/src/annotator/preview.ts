// Instant previews (training/features/instant.py): a fast model's class map of the image, made by a worker
// about a second after each saved stroke and announced by "preview.ready". The annotator draws it
// as its own overlay (I), marked as a preview, at the scale the worker made it (longer side at most
// 512 px), stretched over the image.
//
// Which of the two guesses is drawn: the newer one. A preview made after the deep model's
// latest prediction of this image shows instead of that prediction (it has seen labels the model
// has not); a prediction that arrives later ("predictions.ready" for a newer model version)
// replaces the preview until the next stroke brings a newer one.
import type { PreviewInfo } from "../api/images";
import type { LabelMap } from "../painter/labelmap";

/** Does the preview win over the deep model's prediction made at `predictionMadeAt` (Unix s)? */
export function previewWins(preview: PreviewInfo | null, predictionMadeAt: number | null): boolean {
  if (!preview) return false;
  return predictionMadeAt === null || preview.madeAt > predictionMadeAt;
}

/**
 * The value at each full-resolution pixel index of a width x height image, read from a map made
 * at a smaller scale (nearest preview pixel, proportionally).
 */
export function scaledSource(map: LabelMap, width: number, height: number): (index: number) => number {
  const columns = new Uint32Array(width);
  for (let x = 0; x < width; x++) columns[x] = Math.min(map.width - 1, Math.floor((x * map.width) / width));
  const rows = new Uint32Array(height);
  for (let y = 0; y < height; y++) rows[y] = Math.min(map.height - 1, Math.floor((y * map.height) / height)) * map.width;
  return (index) => map.data[rows[Math.floor(index / width)] + columns[index % width]];
}

/** What the note over the canvas says, so no one takes the preview for the trained model. */
export const previewNote = (images: number): string =>
  `fast preview from ${images} labelled image${images === 1 ? "" : "s"}, not the trained model`;
