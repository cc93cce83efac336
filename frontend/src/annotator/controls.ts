// The annotator's side panel: tool, size, class and layer; undo and redo; overlays with their
// opacity; channel and contrast; fit and 1:1. Each widget shows the state it controls and
// changes it only through that state's methods (settings.ts, overlays.ts, the canvas).
import type { PaintedKind } from "../api/annotations";
import type { Channel } from "../api/images";
import type { LabelClass } from "../api/projects";
import { h } from "../ui";
import type { AnnotatorCanvas } from "./canvas";
import { autoContrast } from "./contrast";
import { OVERLAY_LABELS, type OverlayName, type Overlays } from "./overlays";
import { SLIDER_MAX_RADIUS, type Settings, type ToolName } from "./settings";
import type { TiledImage } from "./tiles";

const TOOL_LABELS: Partial<Record<ToolName, string>> = { brush: "Brush (B)", eraser: "Eraser (E)", fill: "Fill (G)", pin: "Comment (C)", tiles: "Tile tags (L)" };

/** Tool, brush size, class, layer, undo and redo. */
export function paintControls(settings: Settings, classes: LabelClass[], editable: boolean, history: { undo(): void; redo(): void }): HTMLElement[] {
  const toolButtons = Object.entries(TOOL_LABELS).map(([name, label]) =>
    h("button", { "data-tool": name, onclick: () => settings.setTool(name as ToolName), disabled: !editable && name !== "pin" }, label),
  );
  const size = h("input", { type: "range", min: 0.5, max: SLIDER_MAX_RADIUS, step: 0.5, value: settings.radius, "aria-label": "Brush size" });
  size.addEventListener("input", () => settings.setRadius(Number(size.value)));
  const classButtons = classes.map((c, k) =>
    h("button", { class: "class-button", "data-class": c.index, onclick: () => settings.setClass(c.index), style: `--class-color: ${c.color}` }, `${k + 1} ${c.name}`),
  );
  const layer = h(
    "select",
    { "aria-label": "Layer", "data-testid": "layer", disabled: !editable },
    h("option", { value: "scribble" }, "scribbles"),
    h("option", { value: "dense" }, "dense mask"),
  );
  layer.addEventListener("change", () => settings.setTarget(layer.value as PaintedKind));
  const show = (): void => {
    toolButtons.forEach((b) => b.classList.toggle("active", b.dataset.tool === settings.tool));
    classButtons.forEach((b) => b.classList.toggle("active", Number(b.dataset.class) === settings.classIndex));
    size.value = String(settings.radius);
    layer.value = settings.target;
  };
  settings.onChange(show);
  show();
  return [
    h("div", { class: "group" }, ...toolButtons),
    h("label", {}, "Size ([ ]) ", size),
    h("div", { class: "group classes" }, ...classButtons),
    h("label", {}, "Paint on ", layer),
    h("div", { class: "group" }, h("button", { onclick: history.undo, disabled: !editable }, "Undo"), h("button", { onclick: history.redo, disabled: !editable }, "Redo")),
  ];
}

/** A checkbox and an opacity slider per overlay (the author's only in review); the checkbox follows the overlay keys too. */
export function overlayControls(overlays: Overlays, review: boolean): HTMLElement[] {
  const boxes = new Map<OverlayName, HTMLInputElement>();
  overlays.onShown((name, shown) => {
    const box = boxes.get(name);
    if (box) box.checked = shown;
  });
  const names = (Object.keys(OVERLAY_LABELS) as OverlayName[]).filter((name) => review || name !== "author");
  return names.map((name) => {
    const box = h("input", { type: "checkbox", checked: overlays.shown[name], "data-overlay": name });
    const slider = h("input", { type: "range", min: 0, max: 1, step: 0.05, value: overlays.opacity[name], "aria-label": `${name} opacity` });
    box.addEventListener("change", () => overlays.setShown(name, box.checked));
    slider.addEventListener("input", () => overlays.setOpacity(name, Number(slider.value)));
    boxes.set(name, box);
    return h("label", { class: "overlay-control" }, box, ` ${OVERLAY_LABELS[name]} `, slider);
  });
}

/** Channel (or all, tinted), contrast limits, auto contrast; fit and 1:1. */
export function imageControls(picture: TiledImage, channels: Channel[], canvas: AnnotatorCanvas): HTMLElement[] {
  const channel = h(
    "select",
    { "aria-label": "Channel" },
    ...(channels.length > 1 ? [h("option", { value: "composite" }, "composite")] : []),
    ...channels.map((c, k) => h("option", { value: k }, c.name)),
  );
  channel.value = channels.length > 1 ? "composite" : "0";
  const low = h("input", { type: "range", min: 0, max: 254, value: 0, "aria-label": "Contrast minimum" });
  const high = h("input", { type: "range", min: 1, max: 255, value: 255, "aria-label": "Contrast maximum" });
  const apply = (): void => {
    const min = Math.min(Number(low.value), Number(high.value) - 1);
    picture.setContrast(channel.value, min, Math.max(Number(high.value), min + 1));
    canvas.invalidate();
  };
  const auto = (): void => {
    const limits = autoContrast(picture.overviewHistogram()); // the coarsest level: the whole image, cheaply
    low.value = String(limits.low);
    high.value = String(limits.high);
    apply();
  };
  channel.addEventListener("change", apply);
  for (const input of [low, high]) input.addEventListener("input", apply);
  apply();
  return [
    h("label", {}, "Channel ", channel),
    h("label", {}, "Min ", low),
    h("label", {}, "Max ", high),
    h(
      "div",
      { class: "group" },
      h("button", { onclick: auto }, "Auto contrast"),
      h("button", { onclick: () => canvas.fit() }, "Fit (F)"),
      h("button", { onclick: () => canvas.oneToOne() }, "1:1 (A)"),
    ),
  ];
}
