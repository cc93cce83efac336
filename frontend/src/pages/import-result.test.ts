import { describe, expect, it } from "vitest";
import type { ImportResult } from "../api/annotations";
import { importHeadline, importLines } from "./import-result";

const result: ImportResult = {
  images: [12, 10],
  objects: 7,
  classes_created: ["mitosis"],
  skipped: [{ image: "field-c", reason: "already has a dense mask" }],
  skipped_shapes: 2,
};
const names = new Map([
  [10, "field-a"],
  [12, "field-b"],
]);

describe("an import's result", () => {
  it("lists every image attached by name, then every one skipped with the server's reason", () => {
    const lines = importLines(result, (id) => names.get(id));
    expect(lines.filter((l) => l.kind === "attached").map((l) => l.text)).toEqual(["field-a: attached", "field-b: attached"]);
    expect(lines.filter((l) => l.kind === "skipped").map((l) => l.text)).toEqual(["field-c: skipped, already has a dense mask"]);
    expect(lines.filter((l) => l.kind === "note").map((l) => l.text)).toEqual([
      "Classes created: mitosis",
      "2 point, line or box shape(s) left out: they cannot be masks",
    ]);
  });

  it("names an image the page does not know by its id", () => {
    expect(importLines({ ...result, images: [99], skipped: [], classes_created: [], skipped_shapes: 0 }, () => undefined)).toEqual([
      { kind: "attached", text: "image 99: attached" },
    ]);
  });

  it("sums up in one line", () => {
    expect(importHeadline(result)).toBe("Attached labels to 2 image(s) (7 objects); 1 skipped.");
    expect(importHeadline({ ...result, skipped: [] })).toBe("Attached labels to 2 image(s) (7 objects).");
  });
});
