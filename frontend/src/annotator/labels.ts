// The human-label rule, the same in the annotator, the instant preview and training
// (labeling.selectors.human_label_map), checked against the shared cases in
// tests/cases/human_label_map.json: a pixel's human label is the scribble layer's value where it
// says something (non-zero), else the dense mask's; 0 is unlabelled. Derived pseudo-masks are not
// human labels.
import type { PaintedKind } from "../api/annotations";

/** Which layer gives the label of pixel `index`: the scribbles where they are non-zero, else the dense mask. */
export function labellingLayer(scribble: ArrayLike<number> | null, index: number): PaintedKind {
  return scribble !== null && scribble[index] !== 0 ? "scribble" : "dense";
}

/** The human label of every pixel of a width x height image; a missing layer (null) says nothing. */
export function humanLabelMap(
  width: number,
  height: number,
  scribble: ArrayLike<number> | null,
  dense: ArrayLike<number> | null,
): Uint16Array {
  const labels = new Uint16Array(width * height);
  const layers = { scribble, dense };
  for (let i = 0; i < labels.length; i++) labels[i] = layers[labellingLayer(scribble, i)]?.[i] ?? 0;
  return labels;
}
