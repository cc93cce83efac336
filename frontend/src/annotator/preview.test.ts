import { describe, expect, it } from "vitest";
import { previewNote, previewWins, scaledSource } from "./preview";

describe("previewWins", () => {
  const preview = { seq: 3, madeAt: 100, images: 2 };

  it("shows a preview when the deep model has no prediction of the image", () => {
    expect(previewWins(preview, null)).toBe(true);
  });

  it("shows the newer of the two guesses", () => {
    expect(previewWins(preview, 99.5)).toBe(true); // strokes after the model's prediction
    expect(previewWins(preview, 100.5)).toBe(false); // a run finished after the preview
    expect(previewWins(null, null)).toBe(false);
  });
});

describe("scaledSource", () => {
  it("reads a half-size map at the nearest preview pixel", () => {
    const map = { width: 2, height: 2, data: new Uint8Array([1, 2, 3, 4]) };
    const value = scaledSource(map, 4, 4);
    const full = Array.from({ length: 16 }, (_, i) => value(i));
    expect(full).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it("maps odd sizes as the server's blocks do (5 px in blocks of 2 -> 3) and never reads past the map", () => {
    const map = { width: 3, height: 1, data: new Uint8Array([5, 6, 7]) };
    const value = scaledSource(map, 5, 1);
    expect([0, 1, 2, 3, 4].map(value)).toEqual([5, 5, 6, 6, 7]);
  });

  it("is the map itself at full size", () => {
    const map = { width: 3, height: 2, data: new Uint8Array([1, 2, 3, 4, 5, 6]) };
    const value = scaledSource(map, 3, 2);
    expect([0, 1, 2, 3, 4, 5].map(value)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe("previewNote", () => {
  it("says it is a preview and not the trained model", () => {
    expect(previewNote(1)).toBe("fast preview from 1 labelled image, not the trained model");
    expect(previewNote(4)).toContain("4 labelled images, not the trained model");
  });
});
