import { describe, expect, it } from "vitest";
import type { EventOf } from "../api/events.gen";
import { isActive, jobAfter, jobFraction, jobText, newer, scopeOf, type JobView } from "./predict-jobs";

const progress = (state: string, done: number, total = 4): EventOf<"prediction.progress"> => ({
  type: "prediction.progress",
  job: 7,
  model_version: 3,
  state,
  done,
  total,
});

const finished = (state: string, done: number, skipped: number[] = [], error = ""): EventOf<"prediction.done"> => ({
  type: "prediction.done",
  job: 7,
  model_version: 3,
  state,
  done,
  total: 4,
  skipped,
  error,
});

const loaded: JobView = { id: 7, modelVersion: 3, state: "running", done: 2, total: 4, skipped: 0, error: "" };

describe("jobAfter", () => {
  it("makes a job the page did not know from its event", () => {
    expect(jobAfter(undefined, progress("queued", 0))).toMatchObject({ id: 7, modelVersion: 3, state: "queued", done: 0, total: 4 });
  });

  it("moves a loaded job on", () => {
    expect(jobAfter(loaded, progress("running", 3))).toMatchObject({ state: "running", done: 3 });
  });

  it("ignores an event older than the state the page loaded", () => {
    expect(jobAfter(loaded, progress("running", 1))).toBe(loaded);
    expect(jobAfter(loaded, progress("queued", 0))).toBe(loaded);
  });

  it("ends the job with what it skipped and why it failed, and nothing moves it after that", () => {
    const failed = jobAfter(loaded, finished("failed", 3, [11], "OSError: disk full"));
    expect(failed).toMatchObject({ state: "failed", done: 3, skipped: 1, error: "OSError: disk full" });
    expect(isActive(failed)).toBe(false);
    expect(jobAfter(failed, progress("running", 4))).toBe(failed);
  });
});

describe("jobText and jobFraction", () => {
  it("say how far a running job is", () => {
    expect(jobText(loaded)).toBe("Model v3: 2 of 4 images");
    expect(jobFraction(loaded)).toBe(0.5);
  });

  it("count the skipped images out of the predicted ones", () => {
    const done: JobView = { ...loaded, state: "succeeded", done: 4, skipped: 1 };
    expect(jobText(done)).toBe("Model v3: done, 3 of 4 images predicted; 1 could not be predicted");
  });

  it("say a queued job waits, and a cancelled one where it stopped", () => {
    expect(jobText({ ...loaded, state: "queued", done: 0, total: 1 })).toBe("Model v3: waiting for a worker (1 image)");
    expect(jobText({ ...loaded, state: "cancelled" })).toBe("Model v3: cancelled after 2 of 4 images");
  });

  it("call an empty job 0 through", () => {
    expect(jobFraction({ ...loaded, total: 0, done: 0 })).toBe(0);
  });
});

describe("scopeOf", () => {
  it("asks for the selected images", () => {
    expect(scopeOf("selected", [4, 2])).toEqual({ scope: "images", images: [4, 2] });
  });

  it("refuses an empty selection with what to do", () => {
    expect(() => scopeOf("selected", [])).toThrow("Select images in the grid first");
  });

  it("asks for a split, all, the unpredicted or the inference-only images", () => {
    expect(scopeOf("split:validation", [])).toEqual({ scope: "split", split: "validation" });
    expect(scopeOf("all", [1])).toEqual({ scope: "all" });
    expect(scopeOf("not_predicted", [])).toEqual({ scope: "not_predicted" });
    expect(scopeOf("inference", [])).toEqual({ scope: "inference" });
  });
});

describe("newer", () => {
  it("lets the server's record of an ended job replace a running one, never the other way", () => {
    const ended: JobView = { ...loaded, state: "cancelled" };
    expect(newer(loaded, ended)).toBe(ended);
    expect(newer(ended, loaded)).toBe(ended);
  });
});
