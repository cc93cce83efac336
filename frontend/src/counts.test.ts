import { describe, expect, it } from "vitest";
import type { ImageSummary } from "./api/images";
import { countLines, newestCounts, takePrediction } from "./counts";

const classes = [
  { index: 1, name: "background" },
  { index: 2, name: "nucleus" },
  { index: 3, name: "mitosis" },
];

describe("countLines", () => {
  it("names each counted class in class order", () => {
    expect(countLines({ "3": 1, "2": 12 }, classes)).toEqual(["12 nucleus", "1 mitosis"]);
  });

  it("keeps a zero count: none found is an answer", () => {
    expect(countLines({ "2": 0 }, classes)).toEqual(["0 nucleus"]);
  });

  it("names a class the project no longer has by its index", () => {
    expect(countLines({ "7": 4 }, classes)).toEqual(["4 class 7"]);
  });

  it("says nothing for a prediction without countable classes", () => {
    expect(countLines({}, classes)).toEqual([]);
  });
});

describe("newestCounts", () => {
  it("takes the first counts an image gets", () => {
    expect(newestCounts(null, 3, { "2": 5 })).toEqual({ model_version: 3, counts: { "2": 5 } });
  });

  it("takes a newer version's counts", () => {
    expect(newestCounts({ model_version: 3, counts: { "2": 5 } }, 4, { "2": 6 })).toEqual({ model_version: 4, counts: { "2": 6 } });
  });

  it("keeps a newer version's counts over an older version's that arrive late", () => {
    const shown = { model_version: 4, counts: { "2": 6 } };
    expect(newestCounts(shown, 3, { "2": 5 })).toBe(shown);
  });
});

describe("takePrediction", () => {
  const event = (version: number, image: number, counts: Record<string, number>) => ({
    type: "predictions.ready" as const,
    at: 0,
    model_version: version,
    run: 1,
    predictions: [{ image, prediction: 1, uncertainty: null, mask_url: "", counts }],
  });

  it("marks an image the event predicted, with its counts, and leaves the others alone", () => {
    const image = { id: 7, predicted: false, object_counts: null } as unknown as ImageSummary;
    const other = { id: 8, predicted: false, object_counts: null } as unknown as ImageSummary;
    takePrediction(image, event(2, 7, { "2": 4 }));
    takePrediction(other, event(2, 7, { "2": 4 }));
    expect([image.predicted, image.object_counts]).toEqual([true, { model_version: 2, counts: { "2": 4 } }]);
    expect([other.predicted, other.object_counts]).toEqual([false, null]);
  });
});
