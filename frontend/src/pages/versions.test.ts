import { describe, expect, it } from "vitest";
import { bestVersion, modelName, predicts } from "./versions";

const version = (id: number, kind: string, pixelF1?: number) => ({
  id,
  kind,
  metrics: pixelF1 === undefined ? {} : { validation: { pixel_f1: pixelF1, iou: 0.5 } },
});

describe("bestVersion", () => {
  it("marks the version of any kind with the highest validation pixel F1", () => {
    expect(bestVersion([version(1, "segmentation", 0.81), version(2, "forest", 0.86), version(3, "segmentation", 0.84)])).toBe(2);
    expect(bestVersion([version(1, "forest", 0.7), version(2, "segmentation", 0.9)])).toBe(2);
  });

  it("prefers the newer version on a tie", () => {
    expect(bestVersion([version(4, "forest", 0.8), version(3, "segmentation", 0.8)])).toBe(4);
  });

  it("skips versions without a validation score and encoders, and finds none among them", () => {
    expect(bestVersion([version(1, "segmentation"), version(2, "encoder", 0.99), version(3, "forest", 0.5)])).toBe(3);
    expect(bestVersion([version(1, "segmentation"), version(2, "encoder")])).toBeNull();
    expect(bestVersion([])).toBeNull();
  });
});

describe("what a version is", () => {
  it("names forests and networks and says which predict", () => {
    expect(modelName({ kind: "forest", config: { train: { architecture: "unet" } } })).toBe("random forest");
    expect(modelName({ kind: "segmentation", config: { train: { architecture: "unet", encoder: "resnet18" } } })).toBe("unet/resnet18");
    expect([predicts({ kind: "segmentation" }), predicts({ kind: "forest" }), predicts({ kind: "encoder" })]).toEqual([true, true, false]);
  });
});
