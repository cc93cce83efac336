import { describe, expect, it } from "vitest";
import shared from "../../../tests/cases/human_label_map.json";
import { humanLabelMap, labellingLayer } from "./labels";

// The cases the back end's tests read too (tests/cases/human_label_map.json at the repository root).
describe("the human-label rule", () => {
  it.each(shared.cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    expect(Array.from(humanLabelMap(c.width, c.height, c.scribble, c.dense))).toEqual(c.expected);
  });

  it("names the scribble layer only where it says something", () => {
    const scribble = [0, 3, 0];
    expect([0, 1, 2].map((i) => labellingLayer(scribble, i))).toEqual(["dense", "scribble", "dense"]);
    expect(labellingLayer(null, 1)).toBe("dense");
  });
});
