import { describe, expect, it } from "vitest";
import { curvePath, f1Domain, f1Ticks, gainText, lastGain, linearScale, log2Scale, mergePoint, type StudyPoint } from "./study-chart";

const point = (size: number, pixel_f1: number | null, state = pixel_f1 === null ? "queued" : "succeeded"): StudyPoint => ({
  size,
  run: 10 + size,
  state,
  model_version: pixel_f1 === null ? null : 100 + size,
  pixel_f1,
  train_images: pixel_f1 === null ? null : size,
});

describe("log2Scale", () => {
  it("spaces doublings evenly and puts the total between them", () => {
    const x = log2Scale([1, 2, 4, 8], 40, 340);
    expect([1, 2, 4, 8].map(x)).toEqual([40, 140, 240, 340]);
    expect(log2Scale([1, 2, 4, 5], 0, 100)(4)).toBeCloseTo((2 / Math.log2(5)) * 100, 9);
  });

  it("centres a single size", () => {
    expect(log2Scale([3], 40, 340)(3)).toBe(190);
  });
});

describe("linearScale and the F1 axis", () => {
  it("maps F1 upwards onto the plot", () => {
    const y = linearScale([0, 1], [200, 0]);
    expect([y(0), y(0.25), y(1)]).toEqual([200, 150, 0]);
  });

  it("shows 0..1 until something is scored, then zooms to just below the lowest score", () => {
    expect(f1Domain([point(1, null)])).toEqual([0, 1]);
    expect(f1Domain([point(1, 0.93), point(2, 0.97)])).toEqual([0.8, 1]);
    expect(f1Domain([point(1, 0.02)])).toEqual([0, 1]);
    expect(f1Domain([point(1, 1)])).toEqual([0.9, 1]);
  });

  it("puts gridlines every 0.1 on a narrow axis and every 0.2 on a wide one", () => {
    expect(f1Ticks([0.8, 1])).toEqual([0.8, 0.9, 1]);
    expect(f1Ticks([0, 1])).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
});

describe("curvePath", () => {
  it("joins the scored points left to right and skips the rest", () => {
    const x = log2Scale([1, 2, 4], 0, 200);
    const y = linearScale([0, 1], [100, 0]);
    expect(curvePath([point(4, 0.9), point(1, 0.5), point(2, null, "running")], x, y)).toBe("M0.0 50.0 L200.0 10.0");
    expect(curvePath([point(1, null)], x, y)).toBe("");
  });
});

describe("the gain of the last doubling", () => {
  it("compares the largest scored size with the scored size just below it", () => {
    expect(lastGain([point(1, 0.5)])).toBeNull();
    const gain = lastGain([point(8, null, "running"), point(1, 0.5), point(4, 0.83), point(2, 0.8)]);
    expect(gain).toEqual({ smaller: 2, larger: 4, pixel_f1: expect.closeTo(0.03, 9) });
  });

  it("says whether more labels still help", () => {
    expect(gainText({ smaller: 4, larger: 8, pixel_f1: 0.03 })).toBe(
      "Going from 4 to 8 images added +0.030 pixel F1: more labels still help.",
    );
    expect(gainText({ smaller: 8, larger: 16, pixel_f1: -0.004 })).toBe(
      "Going from 8 to 16 images added −0.004 pixel F1: more labels of this kind barely help now.",
    );
    expect(gainText(null)).toContain("once two sizes are scored");
  });
});

describe("mergePoint", () => {
  it("moves a point forward and keeps the points in size order", () => {
    const points = [point(1, null), point(2, null)];
    const running = mergePoint(points, { size: 2, state: "running" });
    expect(running.map((p) => [p.size, p.state])).toEqual([[1, "queued"], [2, "running"]]);
    const done = mergePoint(running, { size: 2, state: "succeeded", pixel_f1: 0.7, model_version: 7 });
    expect(done[1]).toMatchObject({ size: 2, run: 12, state: "succeeded", pixel_f1: 0.7, model_version: 7 });
    expect(points[1].state).toBe("queued"); // the old list is not changed
  });

  it("ignores a late update that would move a point back", () => {
    const points = [point(1, 0.6)];
    expect(mergePoint(points, { size: 1, state: "running", pixel_f1: null })).toBe(points);
  });

  it("adds a point it did not know", () => {
    expect(mergePoint([point(2, null)], { size: 1, run: 5, state: "queued" }).map((p) => [p.size, p.run])).toEqual([
      [1, 5],
      [2, 12],
    ]);
  });
});
