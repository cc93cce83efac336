// The project's image grid: a card per image with its label state, review status, assignee and who
// is on it; filtered by label state, review status and "My images"; for managers, a checkbox per
// card makes the selection the team panel assigns (pages/project-team.ts) and the predict panel
// predicts (pages/predict-panel.ts). A predicted image's card shows its objects per countable class,
// updated as predictions arrive.
import type { EventOf } from "../api/events.gen";
import { getImage, thumbnailUrl, type ImageSummary } from "../api/images";
import type { LabelClass } from "../api/projects";
import { STATUS_LABELS, STATUSES } from "../api/team";
import { countLines, newestCounts } from "../counts";
import type { Present } from "../presence";
import { imageHref } from "../routes";
import { h } from "../ui";

/** What the grid shows of an image's labels, most informative first. */
export function labelStates(image: ImageSummary): string[] {
  const states: string[] = [];
  if (image.label_kinds.includes("dense")) states.push("dense");
  if (image.label_kinds.includes("scribble")) states.push("scribbled");
  if (image.label_kinds.includes("tag")) states.push("tagged");
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

/** A checkbox that puts an image in (or out of) the selection. */
function selectBox(image: ImageSummary, selected: Set<number>, changed: () => void): HTMLElement {
  const box = h("input", { type: "checkbox", "aria-label": `Select ${image.name}`, "data-select": image.name, checked: selected.has(image.id) });
  box.addEventListener("change", () => {
    if (box.checked) selected.add(image.id);
    else selected.delete(image.id);
    changed();
  });
  return h("label", { class: "select-box" }, box);
}

/** "12 nucleus · 3 mitosis" of the newest prediction, with the version in the tooltip; null when not predicted. */
function countsBadge(image: ImageSummary, classes: LabelClass[]): HTMLElement | null {
  const counted = image.object_counts;
  if (!counted) return null;
  const lines = countLines(counted.counts, classes);
  if (!lines.length) return null;
  const title = `objects found by model v${counted.model_version}`;
  return h("span", { class: "counts", "data-testid": "counts", "data-version": counted.model_version, title }, lines.join(" · "));
}

/** An image's card: thumbnail, name and size, label state, counts, review status and assignee, who is on it. */
function imageCard(projectId: number, image: ImageSummary, here: string[], classes: LabelClass[]): HTMLAnchorElement {
  const thumbnail = image.renditions_ready
    ? h("img", { src: thumbnailUrl(image), alt: image.name, loading: "lazy" })
    : h("div", { class: "rendering" }, "rendering…");
  return h(
    "a",
    { class: "image-card", href: imageHref(projectId, image.id), "data-image": image.id },
    thumbnail,
    h("span", { class: "caption" }, `${image.name} · ${image.width}×${image.height}`),
    h("span", { class: "badges" }, ...labelStates(image).map((state) => h("span", { class: `badge ${state}` }, state))),
    countsBadge(image, classes),
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

  const selectionChanged = (): void => selectionListeners.forEach((listener) => listener([...selected]));
  const card = (image: ImageSummary): HTMLElement => {
    const here = present.filter((p) => p.image === image.id).map((p) => p.user);
    return h("div", { class: "image-tile" }, imageCard(projectId, image, here, classes), selectable ? selectBox(image, selected, selectionChanged) : null);
  };

  function render(): void {
    const filter = filters.read();
    const visible = [...byId.values()].sort((a, b) => a.name.localeCompare(b.name)).filter((image) => shown(image, filter, me));
    node.replaceChildren(...visible.map(card));
    if (!visible.length) node.append(h("p", { class: "muted" }, byId.size ? "No image matches this filter." : "No images yet."));
  }

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
    clearSelection(): void {
      selected.clear();
      selectionChanged();
      render();
    },
    add(added: ImageSummary[]): void {
      for (const image of added) byId.set(image.id, image);
      render();
    },
    /** Predictions stored by a worker: the cards show them as predicted, with the newest version's counts. */
    predictionsReady(event: EventOf<"predictions.ready">): void {
      for (const row of event.predictions) {
        const image = byId.get(row.image);
        if (!image) continue;
        image.predicted = true;
        image.object_counts = newestCounts(image.object_counts, event.model_version, row.counts);
      }
      render();
    },
    setPresent(people: Present[]): void {
      present = people;
      render();
    },
  };
}

export type ImageGrid = ReturnType<typeof imageGrid>;
