import { describe, expect, it } from "vitest";
import type { RunMetric } from "../api/runs";
import { lossSeries, pointFromEvent, pointFromMetric, stageOf, stageText, validationSeries } from "./run-points";

describe("stageText", () => {
  it("names the stage of a tags run and how far it is", () => {
    expect(stageText({ type: "run.stage", run: 3, stage: "classifier", done: 40, total: 300 })).toBe("tag classifier 40/300");
    expect(stageText({ type: "run.stage", run: 3, stage: "score-cam", done: 2, total: 5 })).toBe("score-cam 2/5");
  });
});

const metric = (seq: number, kind: RunMetric["kind"], values: Record<string, unknown>): RunMetric => ({ seq, kind, step: seq * 10, epoch: 0, values });

describe("the curves", () => {
  const points = [
    pointFromMetric(4, metric(1, "stage", { stage: "classifier", done: 10, total: 300, loss: 9.5 })),
    pointFromMetric(4, metric(2, "progress", { loss: 0.7, steps: 100 })),
    pointFromMetric(4, metric(3, "validation", { metrics: { pixel_f1: 0.5, iou: 0.4, f1_class_0: 0.9, f1_class_1: 0.1 } })),
    pointFromMetric(4, metric(4, "stage", { stage: "score-cam", done: 1, total: 5 })),
    pointFromMetric(4, metric(5, "progress", { loss: 0.5, steps: 100 })),
  ];

  it("draw the loss of progress points only: a stage's classifier loss is not the network's", () => {
    expect(lossSeries(points)).toEqual([
      [20, 50],
      [0.7, 0.5],
    ]);
  });

  it("draw validation scores per class, and stage points nowhere", () => {
    expect(validationSeries(points, 2)).toEqual([[30], [0.5], [0.4], [0.9], [0.1]]);
  });

  it("read a stored stage point as the stage line the live event gives", () => {
    expect(stageText(stageOf(points[3]))).toBe("score-cam 1/5");
  });
});

describe("points", () => {
  it("are the same from a live event as from the stored metric", () => {
    const live = pointFromEvent({ type: "run.progress", at: 1.5, run: 4, seq: 2, step: 20, epoch: 0, steps: 100, loss: 0.7, learning_rate: 0.001, samples_per_second: 30, eta_seconds: 8 });
    const stored = pointFromMetric(4, metric(2, "progress", { steps: 100, loss: 0.7, learning_rate: 0.001, samples_per_second: 30, eta_seconds: 8 }));
    expect(live).toEqual(stored);
  });

  it("of previews point at the stored class map", () => {
    expect(pointFromMetric(4, metric(6, "preview", { image: 9 })).values.url).toBe("/api/runs/4/previews/6.png");
  });
});
