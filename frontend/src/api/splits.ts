// The train / validation split of a project's images (labeling/views.py ImageSplit, ImageHoldOut):
// a selection set at once, or N images (a stack counts as one) held out at random with a seed.
import { postJSON } from "./client";
import type { Split } from "./images";

export interface HoldOut {
  seed: number;
  /** The image ids now in the validation split. */
  validation: number[];
  /** How many images are now in the training split. */
  train: number;
}

/** Put these images in `split`, all or none; the ids changed. */
export const setSplit = (projectId: number, images: number[], split: Split): Promise<{ split: Split; images: number[] }> =>
  postJSON(`/api/projects/${projectId}/images/split/`, { images, split });

export const holdOut = (projectId: number, body: { count: number; seed: number; with_dense_masks: boolean }): Promise<HoldOut> =>
  postJSON(`/api/projects/${projectId}/images/hold-out/`, body);
