import { afterEach, describe, expect, it, vi } from "vitest";
import { debounce, PARAM_SPECS, readInput } from "./teacher";

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
      ["block_size", "fill_holes", "max_area", "min_area", "min_contrast", "min_distance", "offset", "sigma", "split", "threshold"],
    );
  });
});
