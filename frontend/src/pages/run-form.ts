// The "Start a run" form of the training page: label sources, strategy and its options, the
// network, a warm start (from this project or another one the user can read).
import { listProjects, type LabelClass } from "../api/projects";
import { createRun, listModelVersions, type ModelVersion, type Run } from "../api/runs";
import { errorText, h, labelSources, messageLine, networkFields, numberField as number, selectField as select } from "../ui";
import { PRETEXT_TASKS, runConfig, STRATEGIES, versionLabel, type RunFormValues } from "./run-config";
import { presetPicker } from "./run-presets";

/** The fieldsets only one strategy needs, shown for it: "tags" and "pretrain". */
function strategyOptions(classes: LabelClass[]) {
  // "tags": a classifier on the images and tiles tagged present / absent for one class, Score-CAM
  // pseudo-masks from it, then the network as usual (scribbles and masks win over them).
  const tagClass = h("select", { name: "tag_class" }, ...classes.map((c) => h("option", { value: c.id }, c.name)));
  tagClass.value = String(classes.at(-1)?.id ?? "");
  const tile = number("tile", 128, 32, 1024);
  const classifierSteps = number("classifier_steps", 300, 1, 20000);
  const tags = h(
    "fieldset",
    { hidden: true, "data-testid": "tag-options" },
    h("legend", {}, "Tags"),
    h("label", {}, "Tag class ", tagClass),
    h("label", { title: "the classifier's tile in pixels (not the annotator's tile-tag grid)" }, "Tile ", tile),
    h("label", {}, "Classifier steps ", classifierSteps),
  );
  // "pretrain": self-supervised, no labels: reconstruct blanked squares ("masked") or predict a
  // paired stain from the input channels ("fluorescence"); the encoder version it makes is a
  // warm start for later runs of this or another project.
  const task = select("task", PRETEXT_TASKS, "masked");
  const targetChannel = h("input", { name: "target_channel", value: "fluorescence" });
  const targetLabel = h("label", { hidden: true }, "Predict channel ", targetChannel);
  task.addEventListener("change", () => (targetLabel.hidden = task.value !== "fluorescence"));
  const pretrain = h(
    "fieldset",
    { hidden: true, "data-testid": "pretrain-options" },
    h("legend", {}, "Self-supervised pretraining (no labels)"),
    h("label", {}, "Task ", task),
    targetLabel,
  );
  const read = () => ({
    tagClass: Number(tagClass.value),
    tile: Number(tile.value),
    classifierSteps: Number(classifierSteps.value),
    task: task.value,
    targetChannel: targetChannel.value,
  });
  return { tags, pretrain, read };
}

/** Warm start: from scratch, a version of this project, or (grouped by project) of another one. */
function warmStartSelect(projectId: number, versions: ModelVersion[]): HTMLSelectElement {
  const warm = h(
    "select",
    { name: "warm_start", "data-testid": "warm-start" },
    h("option", { value: "" }, "from scratch"),
    ...versions.map((v) => h("option", { value: v.id }, versionLabel(v))),
  );
  void offerOtherProjects(projectId, warm);
  return warm;
}

/** Transfer: model versions of the other projects this user can read, grouped by project. */
async function offerOtherProjects(projectId: number, warm: HTMLSelectElement): Promise<void> {
  const others = (await listProjects()).filter((project) => project.id !== projectId);
  for (const project of others) {
    const versions = await listModelVersions(project.id);
    if (!versions.length) continue;
    warm.append(h("optgroup", { label: project.name }, ...versions.map((v) => h("option", { value: v.id }, versionLabel(v, project.name)))));
  }
}

/** The checkboxes of how a network starts, trains and scores. */
function networkChecks() {
  // ImageNet weights only from a copy the server has on disk (LESSLABEL_WEIGHTS_DIR); it says so if not.
  const imagenet = h("input", { type: "checkbox", name: "imagenet" });
  // Train the decoder only, on top of the warm start's (or ImageNet's) encoder: with few labelled
  // images, fine-tuning everything forgets what pretraining learnt.
  const freeze = h("input", { type: "checkbox", name: "freeze_encoder" });
  // Scoring each image as the mean over its 8 rotations and mirror images: steadier masks, 8x the time.
  const augment = h("input", { type: "checkbox", name: "test_time_augmentation" });
  return {
    imagenet,
    freeze,
    augment,
    imagenetLabel: h("label", {}, imagenet, " ImageNet encoder weights (local copy)"),
    freezeLabel: h("label", {}, freeze, " Keep the starting encoder fixed (train the decoder only)"),
    augmentLabel: h("label", {}, augment, " Score images in 8 orientations and average them (8x slower scoring)"),
  };
}

export function runForm(
  projectId: number,
  versions: ModelVersion[],
  classes: LabelClass[],
  message: ReturnType<typeof messageLine>,
  started: (run: Run) => void,
): HTMLElement {
  const sources = labelSources();
  // Only what a manager approved, as approved (the team workflow); by default every human label.
  const approvedOnly = h("input", { type: "checkbox", name: "approved_only", "data-testid": "approved-only" });
  sources.node.append(h("label", {}, approvedOnly, " approved images only"));
  const strategy = select("strategy", STRATEGIES, "labels");
  const network = networkFields();
  const { imagenet, freeze, augment, imagenetLabel, freezeLabel, augmentLabel } = networkChecks();
  const epochs = number("epochs", 10, 1, 200);
  // A preset fills in the sizes below; its line says how long they train here (run-presets.ts).
  const preset = presetPicker(projectId);
  const options = strategyOptions(classes);
  const warm = warmStartSelect(projectId, versions);
  const epochsLabel = h("label", {}, "Epochs ", epochs);
  const warmLabel = h("label", {}, "Warm start ", warm);
  // "forest" fits the random-forest peer on the labels in seconds: no network, sizes or warm start.
  const networkOnly = [...network.model, imagenetLabel, preset.node, epochsLabel, ...network.batches, preset.line];
  networkOnly.push(warmLabel, freezeLabel, augmentLabel);
  strategy.addEventListener("change", () => {
    options.tags.hidden = strategy.value !== "tags";
    options.pretrain.hidden = strategy.value !== "pretrain";
    sources.node.hidden = strategy.value === "pretrain";
    for (const part of networkOnly) part.hidden = strategy.value === "forest";
    for (const labelsOnly of [freezeLabel, augmentLabel]) labelsOnly.hidden ||= strategy.value === "pretrain";
  });
  const read = (): RunFormValues => ({
    strategy: strategy.value,
    sources: sources.chosen(),
    approvedOnly: approvedOnly.checked,
    ...network.read(),
    imagenet: imagenet.checked,
    epochs: Number(epochs.value),
    freezeEncoder: freeze.checked,
    testTimeAugmentation: augment.checked,
    ...options.read(),
  });
  const form = h(
    "form",
    { class: "run-form", "data-testid": "run-form" },
    sources.node,
    h("label", {}, "Strategy ", strategy),
    options.tags,
    options.pretrain,
    ...network.model,
    imagenetLabel,
    preset.node,
    epochsLabel,
    ...network.batches,
    preset.line,
    warmLabel,
    freezeLabel,
    augmentLabel,
    h("button", { type: "submit" }, "Start training"),
  );
  preset.attach(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const forest = strategy.value === "forest";
      const warmStart = warm.value && !forest ? Number(warm.value) : null;
      const config = forest ? runConfig(read()) : { preset: preset.chosen(), ...runConfig(read()) };
      const run = await createRun(projectId, config, warmStart);
      message.info(`Run #${run.id} is queued.`);
      started(run);
    } catch (error) {
      message.error(errorText(error));
    }
  });
  return form;
}
