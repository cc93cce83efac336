import { describe, expect, it } from "vitest";
import type { ImageSummary, Split } from "../api/images";
import { gridUnits, selectUnit, splitCounts, stackName, toMove, unitCounts, unitSelected, unitSplit } from "./grid-units";

let nextId = 1;
function image(name: string, more: Partial<ImageSummary> = {}): ImageSummary {
  return {
    id: nextId++, project: 1, name, width: 64, height: 64, split: "unassigned", pixel_size_x: null, pixel_size_y: null,
    stack: null, z: 0, t: 0, size_z: 1, size_t: 1, thumbnail_url: "", renditions_ready: true, channels: [],
    label_kinds: [], predicted: false, status: "todo", assignee: null, object_counts: null, ...more,
  };
}

/** The planes of stack `stack` named "<name> zZZ tTT", listed out of order as a grid may hold them. */
function planes(name: string, stack: number, sizeZ: number, sizeT = 1, split: Split = "unassigned"): ImageSummary[] {
  const made: ImageSummary[] = [];
  for (let t = sizeT - 1; t >= 0; t--)
    for (let z = sizeZ - 1; z >= 0; z--)
      made.push(image(`${name} z${String(z).padStart(2, "0")} t${String(t).padStart(2, "0")}`, { stack, z, t, size_z: sizeZ, size_t: sizeT, split }));
  return made;
}

describe("the grid's cards", () => {
  it("are one per 2-D image and one per stack, opening the stack's first plane, in name order", () => {
    const units = gridUnits([image("b-field"), ...planes("a-deep", 7, 3, 2), image("c-field")]);
    expect(units.map((u) => u.name)).toEqual(["a-deep", "b-field", "c-field"]);
    expect(units[0].planes).toHaveLength(6);
    expect([units[0].image.z, units[0].image.t]).toEqual([0, 0]);
    expect(units[1].planes.map((p) => p.name)).toEqual(["b-field"]);
  });

  it("name a stack by its planes' name without the plane suffix", () => {
    expect(stackName("cells z03 t01")).toBe("cells");
    expect(stackName("z01 t02 notes")).toBe("z01 t02 notes");
  });

  it("say when a stack's planes are in different splits", () => {
    const [deep] = gridUnits(planes("deep", 1, 2, 1, "train"));
    expect(unitSplit(deep)).toBe("train");
    deep.planes[1].split = "validation";
    expect(unitSplit(deep)).toBe("mixed");
  });
});

describe("the selection", () => {
  it("takes a stack whole, and shows it selected only when every plane is", () => {
    const [deep, field] = gridUnits([...planes("deep", 1, 3), image("field")]);
    const selected = new Set<number>();
    selectUnit(selected, deep, true);
    expect(selected.size).toBe(3);
    expect(unitSelected(selected, deep)).toBe(true);
    expect(unitSelected(selected, field)).toBe(false);
    selected.delete(deep.planes[0].id);
    expect(unitSelected(selected, deep)).toBe(false);
    selectUnit(selected, deep, false);
    expect(selected.size).toBe(0);
  });

  it("moves only the selected images not in the split already", () => {
    const images = [image("a", { split: "train" }), image("b"), image("c")];
    const selected = new Set([images[0].id, images[1].id]);
    expect(toMove(selected, images, "train")).toEqual([images[1].id]);
    expect(toMove(selected, images, "validation")).toEqual([images[0].id, images[1].id]);
  });
});

describe("the split counts", () => {
  it("count a stack once, as a hold-out does", () => {
    const units = gridUnits([...planes("deep", 1, 4, 1, "validation"), image("a", { split: "train" }), image("b"), image("c", { split: "train" })]);
    expect(splitCounts(units)).toEqual({ train: 2, validation: 1, unassigned: 1, mixed: 0 });
  });
});

describe("a card's object counts", () => {
  it("are the newest version's, summed over a stack's planes; none before a prediction", () => {
    const [a, b, c] = planes("deep", 9, 3);
    expect(unitCounts([a, b, c])).toBeNull();
    a.object_counts = { model_version: 2, counts: { "2": 3 } };
    b.object_counts = { model_version: 2, counts: { "2": 4, "3": 1 } };
    c.object_counts = { model_version: 1, counts: { "2": 50 } };
    expect(unitCounts([a, b, c])).toEqual({ model_version: 2, counts: { "2": 7, "3": 1 } });
  });
});
