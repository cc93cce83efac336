// The annotator: one image, zoom and pan, channels and contrast, brush / eraser / fill with undo,
// image-level tags, overlays (my labels, others' labels, derived masks, prediction, uncertainty),
// autosave with a visible state, presence, navigation to the next image that needs labels (ranked
// by the latest model's uncertainty, training/guidance.py) and one-click correct-and-retrain.
import { listAnnotations, type Annotation } from "../api/annotations";
import { postJSON } from "../api/client";
import { getImage, listImages, type ImageSummary } from "../api/images";
import { getProject, listClasses, type LabelClass } from "../api/projects";
import { listModelVersions, listPredictions, nextImage, retrainFrom } from "../api/runs";
import { EditableLayer, ME, OTHERS, type SaveState } from "../annotator/layer";
import { emptyMap, fetchMap } from "../annotator/maps";
import { heatTable, TiledImage, TiledOverlay } from "../annotator/tiles";
import { previewNote, previewWins, scaledSource, storedPreview, type PreviewInfo } from "../annotator/preview";
import { ProjectSocket } from "../live";
import { parseHexColor, rgbaTable, type Palette } from "../painter/colors";
import { MAX_RADIUS, type Stroke } from "../painter/raster";
import { fit, oneToOne, panBy, screenToImage, zoomAt, type Viewport } from "../painter/viewport";
import { canAnnotate, canManage, crumbs, errorText, h, messageLine, type Stop } from "../ui";

type Tool = "brush" | "eraser" | "fill";
type OverlayName = "mine" | "others" | "derived" | "prediction" | "instant" | "uncertainty";

const OVERLAY_KEYS: Record<string, OverlayName> = { m: "mine", t: "others", d: "derived", p: "prediction", i: "instant", u: "uncertainty" };
const OVERLAY_LABELS: Record<OverlayName, string> = {
  mine: "my labels (M)",
  others: "others' labels (T)",
  derived: "derived masks (D)",
  prediction: "model prediction (P)",
  instant: "fast preview (I)",
  uncertainty: "uncertainty (U)",
};
const SAVE_TEXT: Record<SaveState, string> = {
  saved: "saved",
  unsaved: "unsaved changes…",
  saving: "saving…",
  conflict: "conflict",
  error: "not saved",
};

/** Why "next needing labels" opened an image: shown in that image's message line once it is up. */
let arrivalNote: { image: number; text: string } | null = null;

/** Does this image still need labels (nothing a model can learn from)? The server's ranking
 * (training/guidance.py HUMAN_KINDS) uses the same rule. */
export const needsLabels = (image: ImageSummary): boolean =>
  !image.label_kinds.some((kind) => kind === "scribble" || kind === "dense" || kind === "tag");

export async function showAnnotator(root: HTMLElement, projectId: number, imageId: number): Promise<Stop> {
  const [project, image, classes, annotations, images] = await Promise.all([
    getProject(projectId),
    getImage(imageId),
    listClasses(projectId),
    listAnnotations(imageId),
    listImages(projectId),
  ]);
  classes.sort((a, b) => a.index - b.index); // number keys pick classes in this order
  const me = document.getElementById("app")?.dataset.user ?? "";
  const editable = canAnnotate(project.role);
  const palette: Palette = new Map(classes.map((c) => [c.index, parseHexColor(c.color)]));
  const message = messageLine();
  const socket = new ProjectSocket(projectId);

  // Layers and overlays ------------------------------------------------------------------
  const layers = {
    scribble: new EditableLayer(imageId, "scribble", me, image.width, image.height),
    dense: new EditableLayer(imageId, "dense", me, image.width, image.height),
  };
  let target: "scribble" | "dense" = "scribble";
  // Every overlay is drawn in tiles at the level the zoom needs: no full-resolution canvas, so
  // an 8192x8192 image costs what the view shows (annotator/tiles.ts).
  const labelColors = rgbaTable(palette, 255);
  const overlays: Record<OverlayName, TiledOverlay> = {
    mine: new TiledOverlay(image.width, image.height, labelColors),
    others: new TiledOverlay(image.width, image.height, labelColors),
    derived: new TiledOverlay(image.width, image.height, labelColors),
    prediction: new TiledOverlay(image.width, image.height, labelColors),
    instant: new TiledOverlay(image.width, image.height, labelColors),
    uncertainty: new TiledOverlay(image.width, image.height, heatTable()),
  };
  const shown: Record<OverlayName, boolean> = { mine: true, others: true, derived: false, prediction: true, instant: true, uncertainty: false };
  const opacity: Record<OverlayName, number> = { mine: 0.6, others: 0.45, derived: 0.4, prediction: 0.35, instant: 0.35, uncertainty: 0.5 };

  /** The labels as drawn: scribbles over the dense mask, split into mine and others' by who wrote them. */
  const labelOf = (wanted: number) => (i: number): number => {
    const top = layers.scribble.map.data[i] ? layers.scribble : layers.dense;
    return top.owners[i] === wanted ? top.map.data[i] : 0;
  };
  overlays.mine.setSource(labelOf(ME));
  overlays.others.setSource(labelOf(OTHERS));

  /** Repaint the label overlays where `changed` (null: everything) changed. */
  function repaintLabels(changed: { x: number; y: number; width: number; height: number } | null): void {
    overlays.mine.changed(changed);
    overlays.others.changed(changed);
    invalidate();
  }

  async function loadDerived(list: Annotation[]): Promise<void> {
    const derived = list.filter((a) => a.kind === "derived" && !a.is_deleted && a.mask_url);
    const merged = emptyMap(derived.length ? image.width : 0, derived.length ? image.height : 0); // none: no memory
    for (const layer of derived) {
      const map = await fetchMap(layer.mask_url as string);
      for (let i = 0; i < map.data.length; i++) if (map.data[i]) merged.data[i] = map.data[i];
    }
    overlays.derived.setSource(derived.length ? (i) => merged.data[i] : null);
    invalidate();
  }

  async function loadPrediction(): Promise<void> {
    const predictions = await listPredictions(projectId, { image: imageId });
    const latest = predictions.sort((a, b) => b.model_version - a.model_version)[0];
    if (!latest) return;
    const [classMap, heat] = await Promise.all([fetchMap(latest.mask_url), fetchMap(`/api/predictions/${latest.id}/uncertainty.png`)]);
    overlays.prediction.setSource((i) => classMap.data[i]);
    overlays.uncertainty.setSource((i) => heat.data[i]);
    canvas.dataset.prediction = String(latest.model_version);
    predictionNote.textContent = `prediction of model v${latest.model_version} · mean uncertainty ${latest.uncertainty.toFixed(3)}`;
    predictionMadeAt = Date.parse((latest as { created_at?: string }).created_at ?? "") / 1000 || Date.now() / 1000;
    invalidate();
  }

  // The instant preview (annotator/preview.ts): a fast model's class map a second after a stroke,
  // drawn instead of the prediction while it is the newer of the two, and marked as a preview.
  let preview: PreviewInfo | null = null;
  let predictionMadeAt: number | null = null;
  const instantNote = h("div", { class: "instant-note", "data-testid": "instant-note", hidden: true, style: "position: absolute; top: 8px; left: 8px; padding: 2px 8px; border: 1px dashed #fff; border-radius: 4px; background: rgba(0, 0, 0, 0.65); color: #fff; font-size: 13px; pointer-events: none;" });

  async function showPreview(url: string, info: PreviewInfo): Promise<void> {
    if (preview && info.seq <= preview.seq) return; // an older one, late
    const map = await fetchMap(url);
    if (preview && info.seq <= preview.seq) return;
    preview = info;
    overlays.instant.setSource(scaledSource(map, image.width, image.height));
    instantNote.textContent = `PREVIEW · ${previewNote(info.images)}`;
    invalidate();
  }

  /** Is the preview drawn (instead of the prediction)? Marks the canvas and shows the note if so. */
  function markPreview(): boolean {
    const drawn = previewWins(preview, predictionMadeAt) && shown.instant;
    instantNote.hidden = !drawn;
    if (drawn && preview) canvas.dataset.instantPreview = String(preview.seq);
    else delete canvas.dataset.instantPreview;
    return drawn;
  }

  // The image ----------------------------------------------------------------------------
  // Display tiles of the channels at the level the zoom needs, contrast applied here (annotator/tiles.ts).
  const picture = new TiledImage(imageId, image.channels.map((c) => c.name), image.width, image.height);
  picture.onLoad = () => invalidate();
  let channelMode = image.channels.length > 1 ? "composite" : "0";
  let low = 0;
  let high = 255;

  function renderBase(): void {
    picture.setContrast(channelMode, low, high);
    invalidate();
  }

  /** Contrast from the 0.5th and 99.5th percentiles of the channel(s) shown, at the coarsest level. */
  function autoContrast(): void {
    const histogram = picture.overviewHistogram(); // the coarsest level: the whole image, cheaply
    const total = histogram.reduce((sum, count) => sum + count, 0);
    let seen = 0;
    low = 0;
    high = 255;
    for (let v = 0; v < 256; v++) {
      seen += histogram[v];
      if (seen <= total * 0.005) low = v;
      if (seen < total * 0.995) high = v + 1;
    }
    high = Math.max(high, low + 1);
    lowInput.value = String(low);
    highInput.value = String(high);
    renderBase();
  }

  // View and drawing ---------------------------------------------------------------------
  const canvas = h("canvas", { class: "annotator-canvas", "data-testid": "canvas", tabindex: 0 });
  const stage = h("div", { class: "stage" }, canvas, instantNote);
  let view: Viewport = { scale: 1, offsetX: 0, offsetY: 0 };
  let frame = 0;
  let drawing: Stroke | null = null;
  let cursor: { x: number; y: number } | null = null;

  function invalidate(): void {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function draw(): void {
    frame = 0;
    const context = canvas.getContext("2d") as CanvasRenderingContext2D;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.fillStyle = "#111";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.setTransform(view.scale, 0, 0, view.scale, view.offsetX, view.offsetY);
    context.imageSmoothingEnabled = view.scale < 1;
    picture.draw(context, view, canvas.width, canvas.height);
    context.imageSmoothingEnabled = false; // label pixels stay crisp
    const previewDrawn = markPreview();
    for (const name of ["prediction", "instant", "uncertainty", "derived", "others", "mine"] as const) {
      if ((name === "prediction" && previewDrawn) || (name === "instant" && !previewDrawn)) continue; // the newer guess only
      if (shown[name]) overlays[name].draw(context, view, canvas.width, canvas.height, opacity[name]);
    }
    const drawn = picture.drawn;
    canvas.dataset.level = String(drawn.level);
    canvas.dataset.tiles = `${drawn.ready}/${drawn.wanted}`;
    if (drawing) drawStroke(context, drawing);
    if (cursor && tool !== "fill") {
      context.strokeStyle = "white";
      context.lineWidth = 1 / view.scale;
      context.beginPath();
      context.arc(cursor.x, cursor.y, radius, 0, Math.PI * 2);
      context.stroke();
    }
  }

  function drawStroke(context: CanvasRenderingContext2D, stroke: Stroke): void {
    const color = palette.get(stroke.class_index) ?? [0, 0, 0];
    context.strokeStyle = stroke.class_index ? `rgb(${color.join(",")})` : "rgba(0,0,0,0.7)";
    context.globalAlpha = opacity.mine;
    context.lineWidth = stroke.radius * 2;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    const [first, ...rest] = stroke.points;
    context.moveTo(first[0], first[1]);
    for (const [x, y] of rest.length ? rest : [first]) context.lineTo(x, y);
    context.stroke();
    context.globalAlpha = 1;
  }

  function resize(): void {
    canvas.width = stage.clientWidth || 800;
    canvas.height = stage.clientHeight || 600;
    invalidate();
  }

  const fitView = (): void => {
    view = fit(image.width, image.height, canvas.width, canvas.height);
    invalidate();
  };

  // Tools ----------------------------------------------------------------------------------
  let tool: Tool = "brush";
  let radius = 4;
  let classIndex = classes.find((c) => c.index > 0)?.index ?? 1;
  let panning: { x: number; y: number } | null = null;
  let spaceHeld = false;

  const pointOf = (event: PointerEvent | WheelEvent): { x: number; y: number } => {
    const box = canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  };

  canvas.addEventListener("pointerdown", (event) => {
    canvas.focus();
    const screen = pointOf(event);
    if (event.button === 1 || (event.button === 0 && spaceHeld)) {
      panning = screen;
      canvas.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (event.button !== 0) return;
    if (!editable) {
      message.error("You are a viewer in this project: you can look, not paint.");
      return;
    }
    const at = screenToImage(view, screen);
    if (tool === "fill") {
      if (target !== "dense") {
        message.error("The fill tool paints the dense mask: switch the layer to “dense mask” first.");
        return;
      }
      if (at.x >= 0 && at.y >= 0 && at.x < image.width && at.y < image.height) layers.dense.fill(at.x, at.y, classIndex);
      return;
    }
    drawing = { class_index: tool === "eraser" ? 0 : classIndex, radius, points: [strokePoint(at, radius, image.width, image.height)] };
    canvas.setPointerCapture(event.pointerId);
    invalidate();
  });

  canvas.addEventListener("pointermove", (event) => {
    const screen = pointOf(event);
    cursor = screenToImage(view, screen);
    if (panning) {
      view = panBy(view, screen.x - panning.x, screen.y - panning.y);
      panning = screen;
    } else if (drawing) {
      const [lastX, lastY] = drawing.points[drawing.points.length - 1];
      const step = Math.max(0.5, drawing.radius / 3); // enough points for the shape, not thousands
      if (Math.hypot(cursor.x - lastX, cursor.y - lastY) >= step && drawing.points.length < 10_000) {
        drawing.points.push(strokePoint(cursor, drawing.radius, image.width, image.height));
      }
    }
    invalidate();
  });

  const finish = (): void => {
    panning = null;
    if (!drawing) return;
    layers[target].paint(drawing);
    drawing = null;
    message.clear();
    invalidate();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("pointerleave", () => {
    cursor = null;
    invalidate();
  });
  canvas.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      view = zoomAt(view, pointOf(event), Math.exp(-event.deltaY * 0.0015));
      invalidate();
    },
    { passive: false },
  );

  function undo(redo: boolean): void {
    const layer = layers[target];
    if (!(redo ? layer.redo() : layer.undo())) message.info(redo ? "Nothing to redo." : "Nothing to undo.");
  }

  function onKey(event: KeyboardEvent): void {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      event.preventDefault();
      undo(event.shiftKey);
      return;
    }
    if ((event.ctrlKey || event.metaKey) && key === "y") {
      event.preventDefault();
      undo(true);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (key === " ") {
      spaceHeld = true;
      event.preventDefault();
    } else if (key === "b") setTool("brush");
    else if (key === "e") setTool("eraser");
    else if (key === "g") setTool("fill");
    else if (key === "[") setRadius(radius / 1.25);
    else if (key === "]") setRadius(radius * 1.25);
    else if (key === "f") fitView();
    else if (key === "a") view = oneToOne(view, canvas.width, canvas.height);
    else if (key === "+" || key === "=") view = zoomAt(view, { x: canvas.width / 2, y: canvas.height / 2 }, 1.25);
    else if (key === "-") view = zoomAt(view, { x: canvas.width / 2, y: canvas.height / 2 }, 0.8);
    else if (key === "n") void goToNextNeedingLabels();
    else if (/^[1-9]$/.test(key) && classes[Number(key) - 1]) setClass(classes[Number(key) - 1].index);
    else if (OVERLAY_KEYS[key]) toggleOverlay(OVERLAY_KEYS[key]);
    else return;
    invalidate();
  }
  const onKeyUp = (event: KeyboardEvent): void => {
    if (event.key === " ") spaceHeld = false;
  };
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", onKeyUp);

  // Controls -------------------------------------------------------------------------------
  const toolButtons = (["brush", "eraser", "fill"] as Tool[]).map((name) =>
    h("button", { "data-tool": name, onclick: () => setTool(name), disabled: !editable }, { brush: "Brush (B)", eraser: "Eraser (E)", fill: "Fill (G)" }[name]),
  );
  const sizeInput = h("input", { type: "range", min: 0.5, max: 64, step: 0.5, value: radius, "aria-label": "Brush size" });
  sizeInput.addEventListener("input", () => setRadius(Number(sizeInput.value)));
  const classButtons = classes.map((c, k) =>
    h(
      "button",
      { class: "class-button", "data-class": c.index, onclick: () => setClass(c.index), style: `--class-color: ${c.color}` },
      `${k + 1} ${c.name}`,
    ),
  );
  const layerSelect = h(
    "select",
    { "aria-label": "Layer", "data-testid": "layer", disabled: !editable },
    h("option", { value: "scribble" }, "scribbles"),
    h("option", { value: "dense" }, "dense mask"),
  );
  layerSelect.addEventListener("change", () => (target = layerSelect.value as "scribble" | "dense"));

  function setTool(name: Tool): void {
    tool = name;
    toolButtons.forEach((b) => b.classList.toggle("active", b.dataset.tool === name));
  }
  function setRadius(value: number): void {
    radius = Math.min(MAX_RADIUS, Math.max(0.5, Math.round(value * 2) / 2));
    sizeInput.value = String(radius);
    invalidate();
  }
  function setClass(index: number): void {
    classIndex = index;
    if (tool === "eraser") setTool("brush");
    classButtons.forEach((b) => b.classList.toggle("active", Number(b.dataset.class) === index));
  }

  const overlayControls = (Object.keys(OVERLAY_LABELS) as OverlayName[]).map((name) => {
    const box = h("input", { type: "checkbox", checked: shown[name], "data-overlay": name });
    const slider = h("input", { type: "range", min: 0, max: 1, step: 0.05, value: opacity[name], "aria-label": `${name} opacity` });
    box.addEventListener("change", () => {
      shown[name] = box.checked;
      invalidate();
    });
    slider.addEventListener("input", () => {
      opacity[name] = Number(slider.value);
      invalidate();
    });
    return h("label", { class: "overlay-control" }, box, ` ${OVERLAY_LABELS[name]} `, slider);
  });
  function toggleOverlay(name: OverlayName): void {
    shown[name] = !shown[name];
    const box = root.querySelector(`input[data-overlay="${name}"]`) as HTMLInputElement | null;
    if (box) box.checked = shown[name];
  }

  const channelSelect = h(
    "select",
    { "aria-label": "Channel" },
    ...(image.channels.length > 1 ? [h("option", { value: "composite" }, "composite")] : []),
    ...image.channels.map((c, k) => h("option", { value: k }, c.name)),
  );
  channelSelect.value = channelMode;
  channelSelect.addEventListener("change", () => {
    channelMode = channelSelect.value;
    renderBase();
  });
  const lowInput = h("input", { type: "range", min: 0, max: 254, value: 0, "aria-label": "Contrast minimum" });
  const highInput = h("input", { type: "range", min: 1, max: 255, value: 255, "aria-label": "Contrast maximum" });
  for (const input of [lowInput, highInput]) {
    input.addEventListener("input", () => {
      low = Math.min(Number(lowInput.value), Number(highInput.value) - 1);
      high = Math.max(Number(highInput.value), low + 1);
      renderBase();
    });
  }

  // Tags -----------------------------------------------------------------------------------
  const tagRow = h("div", { class: "tags", "data-testid": "tags" });
  let tags = annotations.filter((a) => a.kind === "tag");
  function renderTags(): void {
    tagRow.replaceChildren(
      ...classes.map((c) => {
        const tag = tags.find((t) => t.label_class === c.id && !t.is_deleted);
        const present = tag ? (tag.data.present as boolean) : null;
        const button = (value: boolean): HTMLButtonElement =>
          h(
            "button",
            {
              class: present === value ? "active" : "",
              "data-tag": `${c.name}:${value ? "present" : "absent"}`,
              disabled: !editable,
              onclick: () => void setTag(c, value),
            },
            value ? "present" : "absent",
          );
        return h("span", { class: "tag" }, h("strong", {}, c.name), button(true), button(false));
      }),
    );
  }
  async function setTag(labelClass: LabelClass, present: boolean): Promise<void> {
    const tag = tags.find((t) => t.label_class === labelClass.id);
    try {
      const saved = await postJSON<Annotation>(`/api/images/${imageId}/annotations/`, {
        kind: "tag",
        label_class: labelClass.id,
        base_version: tag?.version ?? 0,
        data: { present },
      });
      tags = [...tags.filter((t) => t.id !== saved.id), saved];
      message.info(`Tagged: ${labelClass.name} ${present ? "present" : "absent"}.`);
    } catch (error) {
      tags = (await listAnnotations(imageId)).filter((a) => a.kind === "tag");
      message.error(`${errorText(error)} The tag now shows what is saved; click again to change it.`);
    }
    renderTags();
  }

  // Navigation and presence --------------------------------------------------------------
  const ordered = [...images].sort((a, b) => a.name.localeCompare(b.name));
  const position = ordered.findIndex((i) => i.id === imageId);
  const go = (target?: ImageSummary): void => {
    if (target) location.hash = `#/projects/${projectId}/images/${target.id}`;
  };
  /** The image the server ranks next (most uncertain under the latest model, or by name without one). */
  async function goToNextNeedingLabels(): Promise<void> {
    try {
      const next = await nextImage(projectId, imageId);
      if (!next.image) {
        message.info(next.reason);
        return;
      }
      const rank = next.rank ? ` (rank ${next.rank} of ${next.of})` : "";
      const hint = next.uncertainty !== null ? "; U shows where the model is unsure" : "";
      arrivalNote = { image: next.image.id, text: `${next.image.name}: ${next.reason}${rank}${hint}.` };
      go(next.image);
    } catch (error) {
      message.error(`Next image: ${errorText(error)}`);
    }
  }
  const arrived = arrivalNote?.image === imageId ? arrivalNote.text : null;
  arrivalNote = null;
  if (arrived) message.info(arrived);

  // Correct-and-retrain: paint over the prediction, then one click starts a run warm-started from
  // the latest segmentation model with its settings, on the labels as saved now (managers).
  const retrainButton = h("button", { "data-testid": "retrain", hidden: true, onclick: () => void retrain() }, "Retrain");
  let latestVersion: number | null = null;
  async function refreshRetrain(): Promise<void> {
    if (!canManage(project.role)) return;
    const latest = (await listModelVersions(projectId)).find((v) => v.kind === "segmentation"); // newest first
    latestVersion = latest?.id ?? null;
    retrainButton.hidden = latestVersion === null;
    retrainButton.textContent = `Retrain from v${latestVersion}`;
    retrainButton.title = `Start a run warm-started from model v${latestVersion}, with its settings, on the labels as they are now`;
  }
  async function retrain(): Promise<void> {
    if (latestVersion === null) return;
    const from = latestVersion;
    retrainButton.disabled = true;
    try {
      // The run freezes the labels it starts from: the strokes just painted must be saved first.
      const pending = (): EditableLayer[] => Object.values(layers).filter((layer) => layer.hasUnsaved);
      for (let tries = 0; tries < 5 && pending().length; tries++) await Promise.all(pending().map((layer) => layer.save()));
      if (pending().length) {
        message.error("Your latest strokes are not saved yet, so the run would miss them: retrain once they are saved.");
        return;
      }
      const run = await retrainFrom(from);
      message.info(`Run #${run.id} is queued, warm-started from model v${from} with your corrections. `);
      message.node.append(h("a", { href: `#/projects/${projectId}/training`, "data-testid": "retrain-link" }, "Watch it on the training page →"));
    } catch (error) {
      message.error(`Retrain: ${errorText(error)}`);
    } finally {
      retrainButton.disabled = false;
    }
  }
  socket.on("run.state", (event) => {
    if (event.state === "succeeded" && event.model_version) void refreshRetrain().catch(() => undefined);
  });
  void refreshRetrain().catch((error) => message.error(`Model versions: ${errorText(error)}`));
  const presenceNote = h("span", { class: "presence", "data-testid": "presence" });
  const others = new Map<string, { user: string; image: number | null }>();
  const renderPresence = (): void => {
    const here = [...others.values()].filter((p) => p.image === imageId && p.user !== me).map((p) => p.user);
    presenceNote.textContent = here.length ? `also here: ${[...new Set(here)].join(", ")}` : "";
  };
  socket.on("hello", (event) => {
    others.clear();
    for (const entry of (event.present as { user: string; image: number | null; session: string }[]) ?? []) others.set(entry.session, entry);
    socket.send({ type: "presence", image: imageId });
    renderPresence();
  });
  socket.on("presence", (event) => {
    if (event.left) others.delete(String(event.session));
    else others.set(String(event.session), { user: String(event.user), image: (event.image as number | null) ?? null });
    renderPresence();
  });
  socket.on("labels.changed", async (event) => {
    if (Number(event.image) !== imageId) return;
    if (event.kind === "scribble" || event.kind === "dense") {
      await layers[event.kind].remoteChanged(Number(event.annotation), Number(event.version));
      if (event.user !== me) message.info(`${event.user} saved ${event.kind} labels on this image.`);
    } else if (event.kind === "tag") {
      tags = (await listAnnotations(imageId)).filter((a) => a.kind === "tag");
      renderTags();
    } else if (event.kind === "derived") {
      await loadDerived(await listAnnotations(imageId));
    }
  });
  socket.on("image.rendered", (event) => {
    if (Number(event.image) === imageId) void picture.retry().then(invalidate, (error) => message.error(`The image: ${errorText(error)}`));
  });
  socket.on("predictions.ready", (event) => {
    if (((event.predictions as { image: number }[]) ?? []).some((p) => p.image === imageId)) void loadPrediction();
  });
  socket.on("preview.ready", (event) => {
    if (Number(event.image) !== imageId) return;
    const info = { seq: Number(event.seq), madeAt: Number(event.at), images: Number(event.images) };
    void showPreview(String(event.url), info).catch((error) => message.error(`Preview: ${errorText(error)}`));
  });
  socket.on("preview.skipped", (event) => {
    if (Number(event.image) === imageId) message.info(String(event.detail));
  });
  socket.on("preview.failed", (event) => {
    if (Number(event.image) === imageId) message.error(`The fast preview failed: ${String(event.error)}`);
  });

  const saveState = h("span", { class: "save-state", "data-testid": "save-state", "data-state": "saved" }, "saved");
  for (const layer of Object.values(layers)) {
    layer.onChange = (rect) => repaintLabels(rect);
    layer.onState = (_state, detail) => {
      const states = Object.values(layers).map((l) => l.state);
      const worst = (["error", "conflict", "saving", "unsaved", "saved"] as SaveState[]).find((s) => states.includes(s)) ?? "saved";
      saveState.dataset.state = worst;
      saveState.textContent = SAVE_TEXT[worst];
      if (worst === "conflict") message.info("Someone saved this layer first: merging their strokes with yours…");
      if (worst === "error" && detail) message.error(detail);
    };
  }
  const warnUnsaved = (event: BeforeUnloadEvent): void => {
    if (Object.values(layers).some((l) => l.hasUnsaved)) event.preventDefault();
  };
  window.addEventListener("beforeunload", warnUnsaved);

  // Page -------------------------------------------------------------------------------------
  const predictionNote = h("p", { class: "muted" });
  root.replaceChildren(
    crumbs(
      projectId,
      project.name,
      h("strong", { "data-testid": "image-name" }, image.name),
      h("span", { class: "muted" }, ` ${position + 1} of ${ordered.length}`),
      h("button", { onclick: () => go(ordered[position - 1]), disabled: position <= 0 }, "← previous"),
      h("button", { onclick: () => go(ordered[position + 1]), disabled: position >= ordered.length - 1 }, "next →"),
      h("button", { onclick: () => void goToNextNeedingLabels() }, "next needing labels (N)"),
      retrainButton,
      saveState,
      presenceNote,
    ),
    h(
      "div",
      { class: "annotator" },
      h(
        "aside",
        { class: "tools" },
        editable ? null : h("p", { class: "viewer-note", "data-testid": "viewer-note" }, "Viewer: you can look, not paint."),
        h("div", { class: "group" }, ...toolButtons),
        h("label", {}, "Size ([ ]) ", sizeInput),
        h("div", { class: "group classes" }, ...classButtons),
        h("label", {}, "Paint on ", layerSelect),
        h("div", { class: "group" }, h("button", { onclick: () => undo(false), disabled: !editable }, "Undo"), h("button", { onclick: () => undo(true), disabled: !editable }, "Redo")),
        h("h3", {}, "Overlays"),
        ...overlayControls,
        h("h3", {}, "Image"),
        h("label", {}, "Channel ", channelSelect),
        h("label", {}, "Min ", lowInput),
        h("label", {}, "Max ", highInput),
        h("div", { class: "group" }, h("button", { onclick: autoContrast }, "Auto contrast"), h("button", { onclick: fitView }, "Fit (F)"), h("button", { onclick: () => ((view = oneToOne(view, canvas.width, canvas.height)), invalidate()) }, "1:1 (A)")),
        predictionNote,
      ),
      h("div", { class: "main" }, stage, h("div", { class: "tag-bar" }, h("span", {}, "Image-level tags: "), tagRow), message.node),
    ),
  );
  const observer = new ResizeObserver(() => resize());
  observer.observe(stage);
  resize();
  fitView();
  setTool("brush");
  setClass(classIndex);
  renderTags();
  renderBase();
  await Promise.all([
    picture.loadOverview().catch((error) => message.error(`The image: ${errorText(error)}`)),
    layers.scribble.load(annotations),
    layers.dense.load(annotations),
  ]);
  repaintLabels(null);
  void loadDerived(annotations).catch((error) => message.error(`Derived masks: ${errorText(error)}`));
  void loadPrediction().catch((error) => message.error(`Prediction: ${errorText(error)}`));
  if (annotations.some((a) => a.kind === "scribble" || a.kind === "dense")) {
    // Only saves of these layers make previews: an image without them has none to ask for.
    void storedPreview(imageId)
      .then((stored) => stored && showPreview(stored.url, stored.info))
      .catch((error) => message.error(`Preview: ${errorText(error)}`));
  }
  canvas.dataset.ready = "true";

  return () => {
    for (const layer of Object.values(layers)) void layer.save(); // keep what was painted
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("keyup", onKeyUp);
    window.removeEventListener("beforeunload", warnUnsaved);
    observer.disconnect();
    socket.close();
  };
}

const round = (value: number): number => Math.round(value * 100) / 100;

/** A stroke point, kept within `radius` of the image (the server refuses points further out). */
function strokePoint(at: { x: number; y: number }, radius: number, width: number, height: number): [number, number] {
  const clamp = (value: number, size: number): number => round(Math.min(size + radius, Math.max(-radius, value)));
  return [clamp(at.x, width), clamp(at.y, height)];
}
