// What the project grid shows a card for: a 2-D image, or a whole stack (its planes are images of
// their own, named "<name> z03 t00"), with what its planes add up to. Pure, so the grouping, the
// selection of a stack's planes together, the split summary and the counts are tested without a page.
import type { ImageSummary, ObjectCounts, Split } from "../api/images";

export interface GridUnit {
  /** The image the card opens: a stack's first plane (lowest t, then z). */
  image: ImageSummary;
  /** Every image the card stands for: the image itself, or each plane of the stack. */
  planes: ImageSummary[];
  /** The image's name, or the stack's (its planes' without " z.. t.."). */
  name: string;
}

const PLANE_SUFFIX = / z\d+ t\d+$/;

export const stackName = (planeName: string): string => planeName.replace(PLANE_SUFFIX, "");

/** One unit per 2-D image and per stack, in name order. */
export function gridUnits(images: ImageSummary[]): GridUnit[] {
  const stacks = new Map<number, ImageSummary[]>();
  const units: GridUnit[] = [];
  for (const image of images) {
    if (image.stack === null) units.push({ image, planes: [image], name: image.name });
    else stacks.set(image.stack, [...(stacks.get(image.stack) ?? []), image]);
  }
  for (const planes of stacks.values()) {
    planes.sort((a, b) => a.t - b.t || a.z - b.z);
    units.push({ image: planes[0], planes, name: stackName(planes[0].name) });
  }
  return units.sort((a, b) => a.name.localeCompare(b.name));
}

/** The unit's split, or "mixed" when its planes were put in different ones. */
export function unitSplit(unit: GridUnit): Split | "mixed" {
  const splits = new Set(unit.planes.map((plane) => plane.split));
  return splits.size === 1 ? unit.image.split : "mixed";
}

/** Whether every plane of the unit is in the selection (a card's box shows this). */
export const unitSelected = (selected: ReadonlySet<number>, unit: GridUnit): boolean => unit.planes.every((plane) => selected.has(plane.id));

/** Put the unit's planes in the selection, or take them out: a stack is chosen whole. */
export function selectUnit(selected: Set<number>, unit: GridUnit, on: boolean): void {
  for (const plane of unit.planes) {
    if (on) selected.add(plane.id);
    else selected.delete(plane.id);
  }
}

export type SplitCounts = Record<Split | "mixed", number>;

/** How many cards (a stack counts as one, as a hold-out counts it) are in each split. */
export function splitCounts(units: GridUnit[]): SplitCounts {
  const counts: SplitCounts = { train: 0, validation: 0, unassigned: 0, mixed: 0 };
  for (const unit of units) counts[unitSplit(unit)] += 1;
  return counts;
}

/** The images of the selection that are not in `split` yet (what a split button would change). */
export function toMove(selected: ReadonlySet<number>, images: ImageSummary[], split: Split): number[] {
  return images.filter((image) => selected.has(image.id) && image.split !== split).map((image) => image.id);
}

/** The newest version's counts over a card's planes (summed for a stack); null when not predicted. */
export function unitCounts(planes: ImageSummary[]): ObjectCounts | null {
  const counted = planes.map((plane) => plane.object_counts).filter((c): c is ObjectCounts => c !== null);
  if (!counted.length) return null;
  const version = Math.max(...counted.map((c) => c.model_version));
  const counts: Record<string, number> = {};
  for (const c of counted.filter((c) => c.model_version === version)) {
    for (const [key, n] of Object.entries(c.counts)) counts[key] = (counts[key] ?? 0) + n;
  }
  return { model_version: version, counts };
}
