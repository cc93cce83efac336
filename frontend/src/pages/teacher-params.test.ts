import { afterEach, describe, expect, it, vi } from "vitest";
import type { TeacherJobState } from "../api/teacher";
import { debounce, finishedText, jobText, PARAM_SPECS, readInput, STALLED_SECONDS } from "./teacher-params";

describe("debounce", () => {
  afterEach(() => vi.useRealTimers());

  it("runs once, after the last call of a burst", () => {
    vi.useFakeTimers();
    const run = vi.fn();
    const later = debounce(run, 300);
    later.call();
    vi.advanceTimersByTime(200);
    later.call();
    vi.advanceTimersByTime(200);
    expect(run).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it("does nothing once cancelled", () => {
    vi.useFakeTimers();
    const run = vi.fn();
    const later = debounce(run, 300);
    later.call();
    later.cancel();
    vi.advanceTimersByTime(1000);
    expect(run).not.toHaveBeenCalled();
  });
});

describe("readInput", () => {
  const spec = (name: string) => PARAM_SPECS.find((s) => s.name === name)!;
  const input = (value: string, checked = false) => ({ value, checked }) as unknown as HTMLInputElement;

  it("sends numbers as numbers, choices as text and switches as booleans", () => {
    expect(readInput(spec("sigma"), input("1.5"))).toBe(1.5);
    expect(readInput(spec("min_area"), input("30"))).toBe(30);
    expect(readInput(spec("threshold"), input("otsu"))).toBe("otsu");
    expect(readInput(spec("split"), input("on", false))).toBe(false);
  });

  it("covers every parameter of the pipeline once", () => {
    const names = PARAM_SPECS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(
      [
        "block_size",
        "fill_holes",
        "max_area",
        "min_area",
        "min_contrast",
        "min_distance",
        "offset",
        "peak_fraction",
        "sigma",
        "split",
        "threshold",
      ],
    );
  });
});

describe("jobText", () => {
  const job = (changes: Partial<TeacherJobState>): TeacherJobState => ({
    job: "j1",
    state: "running",
    done: 3,
    total: 10,
    summary: {},
    error: "",
    idle_seconds: 1,
    ...changes,
  });

  it("shows how far a running job is, and that a job idle for long waits for a worker", () => {
    expect(jobText(job({}))).toBe("3 / 10 images");
    expect(jobText(job({ state: "queued", done: 0 }))).toBe("queued: 10 image(s)");
    const stalled = jobText(job({ idle_seconds: STALLED_SECONDS + 30.4 }));
    expect(stalled).toContain("3 / 10 images; no progress for 90 s");
    expect(stalled).toContain("waiting for a worker");
  });

  it("sums up a finished job and names a failure", () => {
    const summary = { made: [1, 2], unchanged: [3], kept: [], excluded: [4], missing: [5] };
    expect(jobText(job({ state: "succeeded", summary }))).toBe(finishedText(summary));
    expect(finishedText(summary)).toBe("done: 2 made, 1 unchanged, 0 kept (edited by a person), 1 excluded");
    expect(jobText(job({ state: "failed", error: "OSError: disk full", idle_seconds: 500 }))).toBe("failed: OSError: disk full");
  });
});
