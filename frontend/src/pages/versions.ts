// Model versions side by side, whatever their kind: what each is, whether it predicts, and which
// one scores best on the validation images. Pure, so the tests can read them.
import type { ModelVersion } from "../api/runs";

/** Networks ("segmentation") and random forests ("forest") predict masks; an "encoder" does not. */
export const predicts = (version: Pick<ModelVersion, "kind">): boolean => version.kind === "segmentation" || version.kind === "forest";

/** What model a version is: "random forest", or the network's "architecture/encoder". */
export function modelName(version: Pick<ModelVersion, "kind" | "config">): string {
  if (version.kind === "forest") return "random forest";
  const train = (version.config.train ?? {}) as Record<string, unknown>;
  return `${train.architecture ?? ""}/${train.encoder ?? ""}`;
}

/** A validation metric of a version (pixel_f1, iou, ...), or null when it was not scored. */
export function validationScore(version: Pick<ModelVersion, "metrics">, key: string): number | null {
  const value = ((version.metrics.validation ?? {}) as Record<string, unknown>)[key];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The id of the predicting version with the highest validation pixel F1 (the newer on a tie), or
 * null when none was scored: versions of any kind compare on the same validation images. */
export function bestVersion(versions: Pick<ModelVersion, "id" | "kind" | "metrics">[]): number | null {
  let best: { id: number; score: number } | null = null;
  for (const version of versions) {
    const score = validationScore(version, "pixel_f1");
    if (score === null || !predicts(version)) continue;
    if (!best || score > best.score || (score === best.score && version.id > best.id)) best = { id: version.id, score };
  }
  return best?.id ?? null;
}
