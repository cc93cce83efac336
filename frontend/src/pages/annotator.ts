// The annotator: one image, zoom and pan, channels and contrast, brush / eraser / fill with undo,
// image-level tags, overlays (my labels, others' labels, derived masks, prediction, uncertainty,
// instant preview), autosave with a visible state, presence, navigation to the next image that
// needs labels and one-click correct-and-retrain. This page loads the data and wires the modules
// of annotator/ together; each of them owns one of those parts.
import { listAnnotations, type Annotation, type PaintedKind } from "../api/annotations";
import { getImage, listImages, storedPreview, type ImageSummary } from "../api/images";
import { getProject, listClasses, type LabelClass, type Project } from "../api/projects";
import { AnnotatorCanvas } from "../annotator/canvas";
import { imageControls, overlayControls, paintControls } from "../annotator/controls";
import { keyAction, type KeyAction } from "../annotator/keys";
import { EditableLayer } from "../annotator/layer";
import { imageNavigation, takeArrivalNote } from "../annotator/navigation";
import { Overlays } from "../annotator/overlays";
import { presenceNote } from "../annotator/presence";
import { retrainButton } from "../annotator/retrain";
import { saveStateNote } from "../annotator/save-state";
import { Settings } from "../annotator/settings";
import { tagRow } from "../annotator/tags";
import { TiledImage } from "../annotator/tiles";
import { createTools, type ToolContext } from "../annotator/tools";
import { followImage } from "../annotator/updates";
import { ProjectSocket } from "../live";
import { parseHexColor, type Palette } from "../painter/colors";
import { canAnnotate, canManage, crumbs, errorText, h, messageLine, type Stop } from "../ui";

const VIEWER_REFUSAL = "You are a viewer in this project: you can look, not paint.";

interface Loaded {
  project: Project;
  image: ImageSummary;
  classes: LabelClass[];
  annotations: Annotation[];
  images: ImageSummary[];
}

/** Everything the page is made of, once wired. */
type Parts = ReturnType<typeof wire>;

async function load(projectId: number, imageId: number): Promise<Loaded> {
  const [project, image, classes, annotations, images] = await Promise.all([
    getProject(projectId),
    getImage(imageId),
    listClasses(projectId),
    listAnnotations(imageId),
    listImages(projectId),
  ]);
  classes.sort((a, b) => a.index - b.index); // number keys pick classes in this order
  return { project, image, classes, annotations, images };
}

/** The layers, overlays, tools and canvas of one image, connected. */
function wire({ project, image, classes }: Loaded, me: string) {
  const editable = canAnnotate(project.role);
  const palette: Palette = new Map(classes.map((c) => [c.index, parseHexColor(c.color)]));
  const message = messageLine();
  const settings = new Settings(classes.find((c) => c.index > 0)?.index ?? 1);
  const layers: Record<PaintedKind, EditableLayer> = {
    scribble: new EditableLayer(image.id, "scribble", me, image.width, image.height),
    dense: new EditableLayer(image.id, "dense", me, image.width, image.height),
  };
  // The image and every overlay are drawn in tiles at the level the zoom needs: no
  // full-resolution canvas, so an 8192x8192 image costs what the view shows (annotator/tiles.ts).
  const picture = new TiledImage(image.id, image.channels.map((c) => c.name), image.width, image.height);
  const context: ToolContext = {
    settings,
    imageWidth: image.width,
    imageHeight: image.height,
    paint: (layer, stroke) => {
      layers[layer].paint(stroke);
      message.clear();
    },
    fill: (layer, col, row, value) => layers[layer].fill(col, row, value),
    panBy: (dx, dy) => canvas.panBy(dx, dy),
    refuse: (reason) => message.error(reason),
    redraw: () => canvas.invalidateInteractive(),
    inkOf: (classIndex) => ({
      color: classIndex ? `rgb(${(palette.get(classIndex) ?? [0, 0, 0]).join(",")})` : "rgba(0,0,0,0.7)",
      alpha: overlays.opacity.mine,
    }),
  };
  const canvas: AnnotatorCanvas = new AnnotatorCanvas({
    imageWidth: image.width,
    imageHeight: image.height,
    tools: createTools(context),
    readOnly: editable ? null : () => message.error(VIEWER_REFUSAL),
    drawStatic: (drawing, view, width, height) => {
      drawing.imageSmoothingEnabled = view.scale < 1;
      picture.draw(drawing, view, width, height);
      drawing.imageSmoothingEnabled = false; // label pixels stay crisp
      overlays.draw(drawing, view, width, height);
      const drawn = picture.drawn;
      canvas.interactive.dataset.level = String(drawn.level);
      canvas.interactive.dataset.tiles = `${drawn.ready}/${drawn.wanted}`;
    },
  });
  const overlays = new Overlays(image, palette, layers, canvas.interactive.dataset, () => canvas.invalidate());
  canvas.node.append(overlays.instantNote);
  picture.onLoad = () => canvas.invalidate();
  for (const layer of Object.values(layers)) layer.onChange = (rect) => overlays.labelsChanged(rect);
  settings.onChange(({ tool }) => {
    canvas.choose(tool);
    canvas.invalidateInteractive();
  });
  return { editable, message, settings, layers, picture, overlays, canvas };
}

/** Carry out what a key stands for. */
function onKeyAction(action: KeyAction, parts: Parts, classes: LabelClass[], nextNeedingLabels: () => Promise<void>): void {
  const { canvas, settings, overlays } = parts;
  switch (action.type) {
    case "undo":
    case "redo":
      return undo(parts, action.type === "redo");
    case "tool":
      return settings.setTool(action.tool);
    case "brushSize":
      return settings.setRadius(settings.radius * action.factor);
    case "fit":
      return canvas.fit();
    case "oneToOne":
      return canvas.oneToOne();
    case "zoom":
      return canvas.zoom(action.factor);
    case "nextNeedingLabels":
      return void nextNeedingLabels();
    case "class":
      if (classes[action.position]) settings.setClass(classes[action.position].index);
      return;
    case "overlay":
      return overlays.setShown(action.name, !overlays.shown[action.name]);
    case "holdToPan":
      return canvas.holdToPan(true);
  }
}

/** Undo (or redo) the latest edit of the layer painted on. */
function undo({ layers, settings, message }: Parts, redo: boolean): void {
  const layer = layers[settings.target];
  if (!(redo ? layer.redo() : layer.undo())) message.info(redo ? "Nothing to redo." : "Nothing to undo.");
}

/** The keyboard, while the page is open; returns what stops listening. */
function listenToKeys(parts: Parts, classes: LabelClass[], nextNeedingLabels: () => Promise<void>): Stop {
  const onKey = (event: KeyboardEvent): void => {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
    const action = keyAction(event);
    if (!action) return;
    if (action.type === "undo" || action.type === "redo" || action.type === "holdToPan") event.preventDefault();
    onKeyAction(action, parts, classes, nextNeedingLabels);
  };
  const onKeyUp = (event: KeyboardEvent): void => {
    if (event.key === " ") parts.canvas.holdToPan(false);
  };
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", onKeyUp);
  return () => {
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("keyup", onKeyUp);
  };
}

/** Show what a page that has just opened needs: labels, derived masks, prediction, preview. */
async function loadLayers(parts: Parts, { image, annotations }: Loaded): Promise<void> {
  const { picture, layers, overlays, message } = parts;
  await Promise.all([
    picture.loadOverview().catch((error) => message.error(`The image: ${errorText(error)}`)),
    layers.scribble.load(annotations),
    layers.dense.load(annotations),
  ]);
  overlays.labelsChanged(null);
  void overlays.loadDerived(annotations).catch((error) => message.error(`Derived masks: ${errorText(error)}`));
  void overlays.loadPrediction().catch((error) => message.error(`Prediction: ${errorText(error)}`));
  if (annotations.some((a) => a.kind === "scribble" || a.kind === "dense")) {
    // Only saves of these layers make previews: an image without them has none to ask for.
    void storedPreview(image.id)
      .then((stored) => stored && overlays.showPreview(stored.url, stored.info))
      .catch((error) => message.error(`Preview: ${errorText(error)}`));
  }
}

export async function showAnnotator(root: HTMLElement, projectId: number, imageId: number): Promise<Stop> {
  const loaded = await load(projectId, imageId);
  const { project, image, classes, annotations } = loaded;
  const me = document.getElementById("app")?.dataset.user ?? "";
  const socket = new ProjectSocket(projectId);
  const parts = wire(loaded, me);
  const { editable, message, settings, layers, picture, overlays, canvas } = parts;
  const navigation = imageNavigation(projectId, imageId, loaded.images, message);
  const arrived = takeArrivalNote(imageId);
  if (arrived) message.info(arrived);
  const saveState = saveStateNote(layers, message);
  const header = crumbs(
    projectId,
    project.name,
    h("strong", { "data-testid": "image-name" }, image.name),
    ...navigation.nodes,
    retrainButton(projectId, canManage(project.role), Object.values(layers), message, socket),
    saveState.node,
    presenceNote(socket, imageId, me),
  );
  const panel = h(
    "aside",
    { class: "tools" },
    editable ? null : h("p", { class: "viewer-note", "data-testid": "viewer-note" }, "Viewer: you can look, not paint."),
    ...paintControls(settings, classes, editable, { undo: () => undo(parts, false), redo: () => undo(parts, true) }),
    h("h3", {}, "Overlays"),
    ...overlayControls(overlays),
    h("h3", {}, "Image"),
    ...imageControls(picture, image.channels, canvas),
    overlays.predictionNote,
  );
  const tags = tagRow(imageId, classes, annotations, editable, message, socket);
  const main = h("div", { class: "main" }, canvas.node, h("div", { class: "tag-bar" }, h("span", {}, "Image-level tags: "), tags), message.node);
  root.replaceChildren(header, h("div", { class: "annotator" }, panel, main));
  followImage(socket, { imageId, me, layers, overlays, picture, message, redraw: () => canvas.invalidate() });
  const stopKeys = listenToKeys(parts, classes, navigation.nextNeedingLabels);
  canvas.resize();
  canvas.fit();
  await loadLayers(parts, loaded);
  canvas.interactive.dataset.ready = "true";
  return () => {
    for (const layer of Object.values(layers)) void layer.save(); // keep what was painted
    stopKeys();
    saveState.stop();
    canvas.stop();
    socket.close();
  };
}
