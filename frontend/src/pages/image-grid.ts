// The project's image grid: a card per image (a stack is one card with its plane count) with its
// label state, split, review status, assignee and who is on it; filtered by label state, review
// status and "My images"; for managers, a checkbox per card makes the selection the team panel
// assigns (pages/project-team.ts), the split panel sets (pages/project-split.ts) and the predict
// panel predicts (pages/predict-panel.ts). A predicted image's card shows its objects per countable
// class, updated as predictions arrive.
import type { EventOf } from "../api/events.gen";
import { getImage, thumbnailUrl, type ImageSummary, type Split } from "../api/images";
import type { LabelClass } from "../api/projects";
import { STATUS_LABELS, STATUSES } from "../api/team";
import { countLines, takePrediction } from "../counts";
import type { Present } from "../presence";
import { imageHref } from "../routes";
import { h } from "../ui";
import { gridUnits, selectUnit, unitCounts, unitSelected, unitSplit, type GridUnit } from "./grid-units";

/** What the grid shows of an image's labels, most informative first. */
export function labelStates(image: ImageSummary): string[] {
  const states: string[] = [];
  if (image.label_kinds.includes("dense")) states.push("dense");
  if (image.label_kinds.includes("scribble")) states.push("scribbled");
  if (image.label_kinds.includes("tag") || image.label_kinds.includes("tiles")) states.push("tagged"); // whole image or tiles
  if (image.label_kinds.includes("derived")) states.push("derived");
  if (image.predicted) states.push("predicted");
  return states.length ? states : ["unlabelled"];
}

const FILTERS = ["all", "unlabelled", "tagged", "scribbled", "dense", "derived", "predicted"];

export interface GridFilter {
  labels: string;
  status: string;
  mine: boolean;
}

/** Whether an image passes the grid's filters (`me`: who "My images" means). */
export function shown(image: ImageSummary, filter: GridFilter, me: string): boolean {
  return (
    (filter.labels === "all" || labelStates(image).includes(filter.labels)) &&
    (filter.status === "any" || image.status === filter.status) &&
    (!filter.mine || image.assignee === me)
  );
}

function filterControls(onChange: () => void) {
  const labels = h("select", { "aria-label": "Show", "data-testid": "filter" }, ...FILTERS.map((name) => h("option", { value: name }, name)));
  const status = h(
    "select",
    { "aria-label": "Review status", "data-testid": "status-filter" },
    h("option", { value: "any" }, "any status"),
    ...STATUSES.map((s) => h("option", { value: s }, STATUS_LABELS[s])),
  );
  const mine = h("input", { type: "checkbox", "data-testid": "my-images" });
  for (const input of [labels, status, mine]) input.addEventListener("change", onChange);
  const node = h("span", { class: "filters" }, labels, status, h("label", {}, mine, " My images"));
  return { node, read: (): GridFilter => ({ labels: labels.value, status: status.value, mine: mine.checked }) };
}

/** A checkbox that puts an image (every plane of a stack) in or out of the selection. */
function selectBox(unit: GridUnit, selected: Set<number>, changed: () => void): HTMLElement {
  const box = h("input", { type: "checkbox", "aria-label": `Select ${unit.name}`, "data-select": unit.name, checked: unitSelected(selected, unit) });
  box.addEventListener("change", () => {
    selectUnit(selected, unit, box.checked);
    changed();
  });
  return h("label", { class: "select-box" }, box);
}

/** The label states of a card: its planes' together ("unlabelled" only when none has labels). */
function unitLabelStates(unit: GridUnit): string[] {
  const states = new Set(unit.planes.flatMap(labelStates));
  if (states.size > 1) states.delete("unlabelled");
  return [...states];
}

/** "name · 64×64", and for a stack its planes: "· 5 planes (z 5 × t 1)". */
function caption({ image, planes, name }: GridUnit): string {
  const size = `${name} · ${image.width}×${image.height}`;
  return image.stack === null ? size : `${size} · ${planes.length} planes (z ${image.size_z} × t ${image.size_t})`;
}

/** "12 nucleus · 3 mitosis" of the newest prediction, with the version in the tooltip; null when not predicted. */
function countsBadge(unit: GridUnit, classes: LabelClass[]): HTMLElement | null {
  const counted = unitCounts(unit.planes);
  if (!counted) return null;
  const lines = countLines(counted.counts, classes);
  if (!lines.length) return null;
  const title = `objects found by model v${counted.model_version}`;
  return h("span", { class: "counts", "data-testid": "counts", "data-version": counted.model_version, title }, lines.join(" · "));
}

/** A card: thumbnail, name and size (and planes), label state, split, counts, review status and assignee, who is on it. */
function imageCard(projectId: number, unit: GridUnit, here: string[], classes: LabelClass[]): HTMLAnchorElement {
  const { image } = unit;
  const thumbnail = image.renditions_ready
    ? h("img", { src: thumbnailUrl(image), alt: unit.name, loading: "lazy" })
    : h("div", { class: "rendering" }, "rendering…");
  const split = unitSplit(unit);
  return h(
    "a",
    { class: image.stack === null ? "image-card" : "image-card stack", href: imageHref(projectId, image.id), "data-image": image.id },
    thumbnail,
    h("span", { class: "caption" }, caption(unit)),
    h(
      "span",
      { class: "badges" },
      ...unitLabelStates(unit).map((state) => h("span", { class: `badge ${state}` }, state)),
      split === "unassigned" ? null : h("span", { class: `split-badge ${split}`, "data-testid": "split" }, split),
    ),
    countsBadge(unit, classes),
    h(
      "span",
      { class: "work" },
      h("span", { class: `status-badge ${image.status}`, "data-testid": "status" }, STATUS_LABELS[image.status]),
      image.assignee ? h("span", { class: "assignee", "data-testid": "assignee" }, ` → ${image.assignee}`) : null,
    ),
    here.length ? h("span", { class: "here" }, `👤 ${here.join(", ")}`) : null,
  );
}

export function imageGrid(projectId: number, images: ImageSummary[], classes: LabelClass[], me: string, selectable: boolean) {
  const byId = new Map(images.map((image) => [image.id, image]));
  const selected = new Set<number>();
  const node = h("div", { class: "image-grid", "data-testid": "image-grid" });
  const filters = filterControls(() => render());
  let present: Present[] = [];
  const selectionListeners = new Set<(ids: number[]) => void>();
  const changeListeners = new Set<() => void>();

  const selectionChanged = (): void => selectionListeners.forEach((listener) => listener([...selected]));
  const card = (unit: GridUnit): HTMLElement => {
    const ids = new Set(unit.planes.map((plane) => plane.id));
    const here = present.filter((p) => p.image !== null && ids.has(p.image)).map((p) => p.user);
    return h("div", { class: "image-tile" }, imageCard(projectId, unit, here, classes), selectable ? selectBox(unit, selected, selectionChanged) : null);
  };

  function render(): void {
    const filter = filters.read();
    const visible = gridUnits([...byId.values()]).filter((unit) => unit.planes.some((image) => shown(image, filter, me)));
    node.replaceChildren(...visible.map(card));
    if (!visible.length) node.append(h("p", { class: "muted" }, byId.size ? "No image matches this filter." : "No images yet."));
    changeListeners.forEach((listener) => listener());
  }

  /** Change these images as they are now known to be (those the grid has), then show them. */
  const update = (ids: number[], change: (image: ImageSummary) => void): void => {
    ids.forEach((id) => byId.has(id) && change(byId.get(id)!));
    render();
  };

  /** Read an image again after it changed (or drop it: archived meanwhile). */
  async function refresh(id: number): Promise<void> {
    try {
      byId.set(id, await getImage(id));
    } catch {
      byId.delete(id);
      selected.delete(id);
    }
    render();
  }

  render();
  return {
    node,
    filters: filters.node,
    refresh,
    nameOf: (id: number): string | undefined => byId.get(id)?.name,
    images: (): ImageSummary[] => [...byId.values()],
    selection: (): number[] => [...selected],
    onSelection(listener: (ids: number[]) => void): void {
      selectionListeners.add(listener);
    },
    /** Call `listener` whenever the grid shows its images again (an image added, changed, split). */
    onChange(listener: () => void): void {
      changeListeners.add(listener);
    },
    clearSelection(): void {
      selected.clear();
      selectionChanged();
      render();
    },
    add(added: ImageSummary[]): void {
      for (const image of added) byId.set(image.id, image);
      render();
    },
    /** The split of these images changed (here or on another page: the images.split event). */
    setSplit: (ids: number[], split: Split): void => update(ids, (image) => (image.split = split)),
    /** Predictions stored by a worker: the cards show them as predicted, with the newest version's counts. */
    predictionsReady: (event: EventOf<"predictions.ready">): void =>
      update(
        event.predictions.map((row) => row.image),
        (image) => takePrediction(image, event),
      ),
    setPresent(people: Present[]): void {
      present = people;
      render();
    },
  };
}

export type ImageGrid = ReturnType<typeof imageGrid>;
