import { describe, expect, it } from "vitest";
import { stageText } from "./training";

describe("stageText", () => {
  it("names the stage of a tags run and how far it is", () => {
    expect(stageText({ type: "run.stage", run: 3, stage: "classifier", done: 40, total: 300 })).toBe("tag classifier 40/300");
    expect(stageText({ type: "run.stage", run: 3, stage: "score-cam", done: 2, total: 5 })).toBe("score-cam 2/5");
  });
});
