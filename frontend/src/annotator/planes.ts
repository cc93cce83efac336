// The planes of a stack: one plane is shown at a time, with a z slider and a t slider (only for
// the axes with more than one plane) and keys that step them (, . for z; < > for t). Each plane is
// an image of its own with its own labels, so moving to another plane opens that image; leaving
// the page saves what was painted, as going to the next image does. Pure plane arithmetic first,
// then the controls.
import type { Plane } from "../api/images";
import type { Viewport } from "../painter/viewport";
import { h } from "../ui";

export type Axis = "z" | "t";

export interface StackShape {
  sizeZ: number;
  sizeT: number;
}

/** How many z-planes and time points the live planes span (1 x 1 for a 2-D image). */
export function stackShape(planes: Plane[]): StackShape {
  if (!planes.length) return { sizeZ: 1, sizeT: 1 };
  return { sizeZ: Math.max(...planes.map((p) => p.z)) + 1, sizeT: Math.max(...planes.map((p) => p.t)) + 1 };
}

/** The plane at (z, t), or null where there is none (an archived plane). */
export function planeAt(planes: Plane[], z: number, t: number): Plane | null {
  return planes.find((p) => p.z === z && p.t === t) ?? null;
}

/** The plane `step` places along `axis` from `from`, skipping missing planes; null past either end. */
export function stepPlane(planes: Plane[], from: Plane, axis: Axis, step: number): Plane | null {
  const along = planes
    .filter((p) => (axis === "z" ? p.t === from.t : p.z === from.z))
    .sort((a, b) => a[axis] - b[axis]);
  const here = along.findIndex((p) => p.id === from.id);
  if (here < 0) return null;
  return along[here + step] ?? null;
}

/** Micrometres per pixel as people read it: "0.325 µm/px", or "0.325 × 0.5 µm/px" when x and y differ. */
export function pixelSizeText(x: number | null, y: number | null): string | null {
  const knownX = x !== null && x > 0 ? x : null;
  const knownY = y !== null && y > 0 ? y : null;
  const first = knownX ?? knownY;
  const second = knownY ?? knownX;
  if (first === null || second === null) return null; // one known side stands for both
  const text = (value: number): string => String(Number(value.toPrecision(4)));
  return first === second ? `${text(first)} µm/px` : `${text(first)} × ${text(second)} µm/px`;
}

/** The view the last plane of a stack was left at, for the plane opened next (same stack only). */
let carried: { stack: number; view: Viewport } | null = null;

/** Keep the view of a plane of `stack` for the plane opened next. */
export function carryView(stack: number, view: Viewport): void {
  carried = { stack, view };
}

/** The view left by a plane of this stack, once (null: fit the image, as any image opens). */
export function takeView(stack: number | null): Viewport | null {
  const view = carried !== null && carried.stack === stack ? carried.view : null;
  carried = null;
  return view;
}

/** The sliders of a stack's axes (none for a 2-D image); `go` opens the plane chosen. */
export function planeControls(planes: Plane[], current: Plane | null, go: (plane: Plane) => void): HTMLElement | null {
  const shape = stackShape(planes);
  if (!current || shape.sizeZ * shape.sizeT <= 1) return null;
  const slider = (axis: Axis, size: number, keys: string): HTMLElement | null => {
    if (size <= 1) return null;
    const input = h("input", { type: "range", min: 0, max: size - 1, step: 1, value: current[axis], "aria-label": `${axis} plane`, "data-testid": `${axis}-slider` });
    const shown = h("span", { class: "plane-index" }, `${current[axis] + 1} / ${size}`);
    input.addEventListener("input", () => (shown.textContent = `${Number(input.value) + 1} / ${size}`));
    input.addEventListener("change", () => {
      const z = axis === "z" ? Number(input.value) : current.z;
      const t = axis === "t" ? Number(input.value) : current.t;
      const target = planeAt(planes, z, t);
      if (target && target.id !== current.id) go(target);
    });
    return h("label", { class: "plane-slider", title: `Keys ${keys}` }, `${axis === "z" ? "z" : "time"} (${keys}) `, input, " ", shown);
  };
  return h("div", { class: "planes", "data-testid": "planes" }, slider("z", shape.sizeZ, ", ."), slider("t", shape.sizeT, "< >"));
}

/** What the plane keys do on the image `imageId` of these planes: open the plane a step away, if any. */
export function planeStepper(planes: Plane[], imageId: number, go: (plane: Plane) => void): (axis: Axis, step: number) => void {
  return (axis, step) => {
    const here = planes.find((p) => p.id === imageId);
    const target = here ? stepPlane(planes, here, axis, step) : null;
    if (target) go(target);
  };
}
