// What the run form sends: the run config (training/runs/create.py run_create checks it) from the
// form's values, and how a warm start is named. Pure, so the tests can read the configs.
import type { ModelVersion } from "../api/runs";

export const STRATEGIES = ["labels", "tags", "pretrain", "forest"];
export const PRETEXT_TASKS = ["masked", "fluorescence"];

/** The values of the run form, as read from its inputs. */
export interface RunFormValues {
  strategy: string;
  sources: string[];
  /** Only the approved images' labels, as approved (label_approval "approved"). */
  approvedOnly: boolean;
  architecture: string;
  encoder: string;
  imagenet: boolean;
  epochs: number;
  stepsPerEpoch: number;
  patchSize: number;
  batchSize: number;
  freezeEncoder: boolean;
  testTimeAugmentation: boolean;
  tagClass: number;
  tile: number;
  classifierSteps: number;
  task: string;
  targetChannel: string;
}

/** Learning-rate warm-up: a tenth of the steps, from 1 to 50 (the run and study forms alike). */
export const warmupSteps = (steps: number): number => Math.max(1, Math.min(50, Math.round(steps / 10)));

export function runConfig(form: RunFormValues): Record<string, unknown> {
  const steps = form.epochs * form.stepsPerEpoch;
  const network = {
    architecture: form.architecture,
    encoder: form.encoder,
    encoder_weights: form.imagenet ? "imagenet" : null,
    steps,
    warmup_steps: warmupSteps(steps),
    steps_per_epoch: form.stepsPerEpoch,
    patch_size: form.patchSize,
    batch_size: form.batchSize,
  };
  const labels = { label_sources: form.sources, label_approval: form.approvedOnly ? "approved" : "all" };
  // "forest": the random-forest peer on the same labels, fitted in seconds; no network settings.
  if (form.strategy === "forest") return { strategy: "forest", ...labels };
  if (form.strategy === "pretrain") {
    const pretext = form.task === "fluorescence" ? { task: "fluorescence", target_channels: [form.targetChannel] } : { task: "masked" };
    return { strategy: "pretrain", ...pretext, ...network };
  }
  return {
    ...labels,
    ...network,
    freeze_encoder: form.freezeEncoder,
    test_time_augmentation: form.testTimeAugmentation,
    ...(form.strategy === "tags"
      ? { strategy: "tags", tag_class: form.tagClass, tile: form.tile, classifier_steps: form.classifierSteps }
      : {}),
  };
}

/** How a model version is offered as a starting point: "model v7 (encoder)", with its project when not this one. */
export function versionLabel(version: Pick<ModelVersion, "id" | "kind">, projectName?: string): string {
  const kind = version.kind === "segmentation" ? "" : ` (${version.kind === "forest" ? "random forest" : version.kind})`;
  return `model v${version.id}${kind}${projectName ? ` of ${projectName}` : ""}`;
}
