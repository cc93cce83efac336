// Which prediction the annotator shows, and what accepting it asks first. Pure: the rules are tested.
import type { Prediction } from "../api/runs";

/** The prediction of the version the person chose, while there is one; otherwise the newest version's. */
export function pickPrediction(predictions: Prediction[], chosenVersion: number | null): Prediction | null {
  const chosen = predictions.find((p) => p.model_version === chosenVersion);
  if (chosen) return chosen;
  return predictions.reduce<Prediction | null>((newest, p) => (!newest || p.model_version > newest.model_version ? p : newest), null);
}

export interface DenseState {
  /** The layer's version (0: it has none yet). */
  version: number;
  /** Does it hold any labelled pixel? */
  hasLabels: boolean;
}

/** The question to ask before a prediction replaces the dense mask, or null when nothing would be replaced. */
export function acceptQuestion(dense: DenseState, modelVersion: number): string | null {
  if (!dense.hasLabels) return null;
  return (
    `This image already has a dense mask (version ${dense.version}). Replace it with model v${modelVersion}'s prediction?\n\n` +
    "Nothing is lost: the current mask stays in the image's history (H), where it can be restored."
  );
}
