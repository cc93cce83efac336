import { describe, expect, it } from "vitest";
import { stageText, versionLabel } from "./training";

describe("stageText", () => {
  it("names the stage of a tags run and how far it is", () => {
    expect(stageText({ type: "run.stage", run: 3, stage: "classifier", done: 40, total: 300 })).toBe("tag classifier 40/300");
    expect(stageText({ type: "run.stage", run: 3, stage: "score-cam", done: 2, total: 5 })).toBe("score-cam 2/5");
  });
});

describe("versionLabel", () => {
  it("says what a warm start is and where it comes from", () => {
    expect(versionLabel({ id: 7, kind: "segmentation" })).toBe("model v7");
    expect(versionLabel({ id: 8, kind: "encoder" })).toBe("model v8 (encoder)");
    expect(versionLabel({ id: 9, kind: "encoder" }, "Other lab")).toBe("model v9 (encoder) of Other lab");
  });
});
