// Small DOM helpers shared by the pages: no framework, just typed element construction.
import { projectHref, projectsHref } from "./routes";

/** What stops a page when the user leaves it (closes its socket, removes key handlers). */
export type Stop = () => void;

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | EventListener | undefined>;

/** h("button", {class: "primary", onclick: save}, "Save") */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") node.addEventListener(name.replace(/^on/, ""), value);
    else if (name === "class") node.className = String(value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** "Projects / <project> / <here> …": the navigation line at the top of a project's pages. */
export function crumbs(projectId: number, projectName: string, here: Child, ...extra: Child[]): HTMLElement {
  return h(
    "nav",
    { class: "crumbs" },
    h("a", { href: projectsHref() }, "Projects"),
    " / ",
    h("a", { href: projectHref(projectId) }, projectName),
    " / ",
    here,
    ...extra,
  );
}

/** A line that shows the outcome of the last action: an error stays until the next action. */
export function messageLine(): { node: HTMLElement; error(text: string): void; info(text: string): void; clear(): void } {
  const node = h("p", { class: "message", role: "status", "aria-live": "polite" });
  return {
    node,
    error(text) {
      node.className = "message error";
      node.textContent = text;
    },
    info(text) {
      node.className = "message";
      node.textContent = text;
    },
    clear() {
      node.textContent = "";
    },
  };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function seconds(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value < 90) return `${Math.round(value)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

export const canAnnotate = (role: string | null): boolean => role === "annotator" || canManage(role);
export const canManage = (role: string | null): boolean => role === "manager" || role === "owner";

// The run settings a form offers (training/ml/config.py, training/runs/spec.py LABEL_SOURCES).
const ARCHITECTURES = ["unet", "unetplusplus", "fpn", "deeplabv3plus"];
const ENCODERS = ["resnet18", "resnet34", "efficientnet-b0", "mobilenet_v2"];
const SOURCES = ["scribble", "dense", "derived"];

export function selectField(name: string, options: string[], value: string): HTMLSelectElement {
  const node = h("select", { name }, ...options.map((o) => h("option", { value: o }, o)));
  node.value = value;
  return node;
}

export function numberField(name: string, value: number, min: number, max: number): HTMLInputElement {
  return h("input", { name, type: "number", value, min, max, required: true });
}

/** "Labels to learn from": one ticked checkbox per label source (name "source"), and which are ticked. */
export function labelSources(): { node: HTMLFieldSetElement; boxes: HTMLInputElement[]; chosen(): string[] } {
  const boxes = SOURCES.map((source) => h("input", { type: "checkbox", name: "source", value: source, checked: true }));
  const node = h("fieldset", {}, h("legend", {}, "Labels to learn from"), ...boxes.map((box) => h("label", {}, box, ` ${box.value}`)));
  return { node, boxes, chosen: () => boxes.filter((box) => box.checked).map((box) => box.value) };
}

/** The network fields both run forms have: architecture and encoder; steps per epoch, patch and batch size. */
export function networkFields() {
  const architecture = selectField("architecture", ARCHITECTURES, "unet");
  const encoder = selectField("encoder", ENCODERS, "resnet18");
  const stepsPerEpoch = numberField("steps_per_epoch", 100, 1, 10000);
  const patch = numberField("patch_size", 256, 32, 1024);
  const batch = numberField("batch_size", 8, 1, 64);
  return {
    model: [h("label", {}, "Architecture ", architecture), h("label", {}, "Encoder ", encoder)],
    batches: [h("label", {}, "Steps per epoch ", stepsPerEpoch), h("label", {}, "Patch size ", patch), h("label", {}, "Batch size ", batch)],
    read: () => ({
      architecture: architecture.value,
      encoder: encoder.value,
      stepsPerEpoch: Number(stepsPerEpoch.value),
      patchSize: Number(patch.value),
      batchSize: Number(batch.value),
    }),
  };
}

/** Make `zone` take dropped files: highlighted while something is dragged over it, `dropped` gets what was let go. */
export function dropZone(zone: HTMLElement, dropped: (data: DataTransfer) => void): void {
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer) dropped(event.dataTransfer);
  });
}
