import { describe, expect, it } from "vitest";
import type { RunEstimate } from "../api/estimate";
import { CUSTOM, durationText, estimateQuery, estimateText, fieldsOf, matchingPreset, sizesOf } from "./run-estimate";

// As training/runs/presets.py has them for the CPU.
const PRESETS = {
  quick: { steps: 150, steps_per_epoch: 50, warmup_steps: 15, batch_size: 8, patch_size: 128 },
  standard: { steps: 500, steps_per_epoch: 100, warmup_steps: 50, batch_size: 8, patch_size: 128 },
};

const answer = (seconds: number | null, runs = 0, tagStage: number | null = null, tagRuns = 0): RunEstimate => ({
  ...PRESETS.standard,
  preset: "standard",
  device: "cpu",
  estimate: seconds === null ? "unknown" : "measured",
  seconds,
  measured_runs: runs,
  tag_stage_seconds: tagStage,
  tag_stage_runs: tagRuns,
  default_preset: "standard",
  presets: PRESETS,
});

describe("the form's sizes and a preset's", () => {
  it("turn steps into epochs of the preset's length and back", () => {
    expect(fieldsOf(PRESETS.standard)).toEqual({ epochs: 5, stepsPerEpoch: 100, patchSize: 128, batchSize: 8 });
    expect(sizesOf(fieldsOf(PRESETS.quick))).toEqual(PRESETS.quick);
  });

  it("name the preset they match, or custom once a size is changed", () => {
    expect(matchingPreset(PRESETS.quick, PRESETS)).toBe("quick");
    expect(matchingPreset({ ...PRESETS.quick, batch_size: 4 }, PRESETS)).toBe(CUSTOM);
    expect(matchingPreset(PRESETS.quick, {})).toBe(CUSTOM);
  });

  it("ask for the preset by name with the sizes, and for custom sizes without one", () => {
    expect(estimateQuery("quick", PRESETS.quick)).toEqual({ preset: "quick", ...PRESETS.quick });
    expect(estimateQuery(CUSTOM, PRESETS.quick)).toEqual(PRESETS.quick);
  });

  it("ask for a tags run's classifier and maps with its options", () => {
    const tags = { strategy: "tags" as const, tag_class: 3, tile: 64, classifier_steps: 200 };
    expect(estimateQuery("quick", PRESETS.quick, tags)).toEqual({ preset: "quick", ...PRESETS.quick, ...tags });
  });
});

describe("the expected duration", () => {
  it("reads in minutes and hours", () => {
    expect(durationText(20)).toBe("under a minute");
    expect(durationText(200)).toBe("about 3 min");
    expect(durationText(3600)).toBe("about 1 h");
    expect(durationText(4830)).toBe("about 1 h 21 min");
  });

  it("says unknown rather than guessing while nothing is measured", () => {
    expect(estimateText(answer(null))).toBe("Expected training time on the CPU: unknown until a run has finished here.");
  });

  it("says what it was measured on", () => {
    expect(estimateText(answer(245, 1))).toBe("Expected training time on the CPU: about 4 min (from the step times of 1 finished run here).");
    expect(estimateText({ ...answer(30, 3), device: "cuda" })).toBe(
      "Expected training time on the GPU: under a minute (from the step times of 3 finished runs here).",
    );
  });

  it("adds a tags run's classifier and maps, or says they are unknown", () => {
    expect(estimateText(answer(245, 1, 130, 2), true)).toBe(
      "Expected training time on the CPU: about 4 min (from the step times of 1 finished run here). " +
        "The tag classifier and Score-CAM maps come first: about 2 min more (from 2 finished tags runs here).",
    );
    expect(estimateText(answer(245, 1), true)).toBe(
      "Expected training time on the CPU: about 4 min (from the step times of 1 finished run here). " +
        "The tag classifier and Score-CAM maps come first: unknown until a tags run has finished here.",
    );
    expect(estimateText(answer(245, 1, 130, 2))).not.toContain("tag classifier");
  });
});
