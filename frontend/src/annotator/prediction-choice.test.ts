import { describe, expect, it } from "vitest";
import type { Prediction } from "../api/runs";
import { acceptQuestion, pickPrediction } from "./prediction-choice";

const of = (id: number, version: number): Prediction => ({ id, model_version: version }) as Prediction;

describe("pickPrediction", () => {
  const predictions = [of(10, 2), of(11, 5), of(12, 3)];

  it("shows the newest version's prediction unless one was chosen", () => {
    expect(pickPrediction(predictions, null)?.id).toBe(11);
  });

  it("keeps the chosen version's prediction when a newer one arrives", () => {
    expect(pickPrediction([...predictions, of(13, 6)], 3)?.id).toBe(12);
  });

  it("falls back to the newest when the chosen version has no prediction of the image", () => {
    expect(pickPrediction(predictions, 4)?.id).toBe(11);
  });

  it("has nothing to show for an image no version predicted", () => {
    expect(pickPrediction([], null)).toBeNull();
  });
});

describe("acceptQuestion", () => {
  it("asks before replacing labels, and says they stay restorable", () => {
    const question = acceptQuestion({ version: 3, hasLabels: true }, 7) ?? "";
    expect(question).toContain("version 3");
    expect(question).toContain("model v7");
    expect(question).toContain("history");
  });

  it("does not ask when the dense mask is empty or absent", () => {
    expect(acceptQuestion({ version: 0, hasLabels: false }, 7)).toBeNull();
    expect(acceptQuestion({ version: 2, hasLabels: false }, 7)).toBeNull();
  });
});
