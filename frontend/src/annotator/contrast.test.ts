import { describe, expect, it } from "vitest";
import { autoContrast } from "./contrast";

const histogram = (counts: Record<number, number>): Uint32Array => {
  const bins = new Uint32Array(256);
  for (const [value, count] of Object.entries(counts)) bins[Number(value)] = count;
  return bins;
};

describe("autoContrast", () => {
  it("spans the values most pixels have, past a few outliers at either end", () => {
    expect(autoContrast(histogram({ 0: 2, 40: 500, 90: 496, 255: 2 }))).toEqual({ low: 39, high: 90 });
  });

  it("keeps the full range when the pixels already use it", () => {
    expect(autoContrast(histogram({ 0: 100, 255: 100 }))).toEqual({ low: 0, high: 255 });
  });

  it("never gives an empty range, even for a flat image", () => {
    const { low, high } = autoContrast(histogram({ 128: 1000 }));
    expect(high).toBeGreaterThan(low);
  });
});
