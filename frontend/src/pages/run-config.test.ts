import { describe, expect, it } from "vitest";
import { runConfig, versionLabel, warmupSteps, type RunFormValues } from "./run-config";

describe("versionLabel", () => {
  it("says what a warm start is and where it comes from", () => {
    expect(versionLabel({ id: 7, kind: "segmentation" })).toBe("model v7");
    expect(versionLabel({ id: 8, kind: "encoder" })).toBe("model v8 (encoder)");
    expect(versionLabel({ id: 10, kind: "forest" })).toBe("model v10 (random forest)");
    expect(versionLabel({ id: 9, kind: "encoder" }, "Other lab")).toBe("model v9 (encoder) of Other lab");
  });
});

describe("runConfig", () => {
  const form: RunFormValues = {
    strategy: "labels",
    sources: ["scribble", "dense"],
    approvedOnly: false,
    architecture: "unet",
    encoder: "resnet18",
    imagenet: false,
    epochs: 3,
    stepsPerEpoch: 20,
    patchSize: 64,
    batchSize: 2,
    freezeEncoder: true,
    testTimeAugmentation: false,
    tagClass: 5,
    tile: 128,
    classifierSteps: 300,
    task: "fluorescence",
    targetChannel: "dapi",
  };
  const network = { architecture: "unet", encoder: "resnet18", encoder_weights: null, steps: 60, warmup_steps: 6, steps_per_epoch: 20, patch_size: 64, batch_size: 2 };

  it("trains on the chosen label sources for epochs x steps per epoch", () => {
    expect(runConfig(form)).toEqual({ label_sources: ["scribble", "dense"], label_approval: "all", ...network, freeze_encoder: true, test_time_augmentation: false });
  });

  it("learns from the approved images' labels only when asked", () => {
    expect(runConfig({ ...form, approvedOnly: true })).toMatchObject({ label_sources: ["scribble", "dense"], label_approval: "approved" });
  });

  it("adds the tag options to a tags run", () => {
    expect(runConfig({ ...form, strategy: "tags" })).toMatchObject({ strategy: "tags", tag_class: 5, tile: 128, classifier_steps: 300 });
  });

  it("sends a pretraining run its pretext task and no labels", () => {
    expect(runConfig({ ...form, strategy: "pretrain" })).toEqual({ strategy: "pretrain", task: "fluorescence", target_channels: ["dapi"], ...network });
    expect(runConfig({ ...form, strategy: "pretrain", task: "masked", imagenet: true })).toEqual({ strategy: "pretrain", task: "masked", ...network, encoder_weights: "imagenet" });
  });

  it("sends a forest run its labels and nothing of a network", () => {
    expect(runConfig({ ...form, strategy: "forest", approvedOnly: true })).toEqual({ strategy: "forest", label_sources: ["scribble", "dense"], label_approval: "approved" });
  });

  it("warms up for a tenth of the steps, from 1 to 50", () => {
    expect([1, 60, 1000].map(warmupSteps)).toEqual([1, 6, 50]);
  });
});
