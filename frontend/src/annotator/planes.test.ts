import { describe, expect, it } from "vitest";
import type { Plane } from "../api/images";
import { carryView, pixelSizeText, planeAt, stackShape, stepPlane, takeView } from "./planes";

/** A z x t stack's planes with ids 100 + t * sizeZ + z, as the server lists them (by t, then z). */
function stack(sizeZ: number, sizeT: number): Plane[] {
  const planes: Plane[] = [];
  for (let t = 0; t < sizeT; t++) for (let z = 0; z < sizeZ; z++) planes.push({ id: 100 + t * sizeZ + z, z, t });
  return planes;
}

describe("a stack's planes", () => {
  it("span the z and t of the planes listed; a 2-D image is one plane", () => {
    expect(stackShape(stack(3, 2))).toEqual({ sizeZ: 3, sizeT: 2 });
    expect(stackShape([])).toEqual({ sizeZ: 1, sizeT: 1 });
  });

  it("step along z at the same time point, and along t at the same depth", () => {
    const planes = stack(3, 2);
    const middle = planeAt(planes, 1, 0)!;
    expect(stepPlane(planes, middle, "z", 1)).toEqual({ id: 102, z: 2, t: 0 });
    expect(stepPlane(planes, middle, "z", -1)).toEqual({ id: 100, z: 0, t: 0 });
    expect(stepPlane(planes, middle, "t", 1)).toEqual({ id: 104, z: 1, t: 1 });
  });

  it("stop at either end instead of wrapping round", () => {
    const planes = stack(3, 1);
    expect(stepPlane(planes, planes[2], "z", 1)).toBeNull();
    expect(stepPlane(planes, planes[0], "z", -1)).toBeNull();
    expect(stepPlane(planes, planes[0], "t", 1)).toBeNull();
  });

  it("skip a plane that was archived", () => {
    const planes = stack(4, 1).filter((p) => p.z !== 2);
    expect(stepPlane(planes, planeAt(planes, 1, 0)!, "z", 1)?.z).toBe(3);
    expect(planeAt(planes, 2, 0)).toBeNull();
  });
});

describe("the pixel size", () => {
  it("reads as micrometres per pixel, one known side standing for both", () => {
    expect(pixelSizeText(0.325, 0.325)).toBe("0.325 µm/px");
    expect(pixelSizeText(null, 0.65)).toBe("0.65 µm/px");
    expect(pixelSizeText(0.1234567, 0.5)).toBe("0.1235 × 0.5 µm/px");
    expect(pixelSizeText(null, null)).toBeNull();
    expect(pixelSizeText(0, null)).toBeNull();
  });
});

describe("the view carried between planes", () => {
  it("goes to the next plane of the same stack only, once", () => {
    const view = { scale: 2, offsetX: -30, offsetY: 12 };
    carryView(7, view);
    expect(takeView(7)).toEqual(view);
    expect(takeView(7)).toBeNull();
    carryView(7, view);
    expect(takeView(8)).toBeNull(); // another stack (or image) fits as usual
    expect(takeView(7)).toBeNull();
    carryView(7, view);
    expect(takeView(null)).toBeNull();
  });
});
