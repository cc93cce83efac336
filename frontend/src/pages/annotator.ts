// The annotator: one image, zoom and pan, channels and contrast, brush / eraser / fill with undo,
// image-level and tile tags, overlays (my labels, others' labels, derived masks, any model version's prediction
// with its objects outlined and counted, uncertainty, instant preview), accepting a prediction as the
// dense mask, autosave with a visible state, presence, navigation to the next image that
// needs labels and one-click correct-and-retrain; the team workflow: the image's review status and
// moves, comments pinned on it, its history, and review mode for managers; a stack's planes one at
// a time with z / t sliders and keys, and the pixel size. This page loads the data and wires the
// modules of annotator/ together; each of them owns one of those parts.
import { listAnnotations, type Annotation, type PaintedKind } from "../api/annotations";
import { getImage, listImages, storedPreview, type ImageDetail, type ImageSummary, type Plane } from "../api/images";
import { getProject, listClasses, type LabelClass, type Project } from "../api/projects";
import { imageWork, type ImageWork } from "../api/team";
import { AnnotatorCanvas } from "../annotator/canvas";
import { ImageComments } from "../annotator/comments";
import { imageControls, overlayControls, paintControls } from "../annotator/controls";
import { keyAction, type KeyAction } from "../annotator/keys";
import { HistoryPanel } from "../annotator/history";
import { EditableLayer } from "../annotator/layer";
import { imageNavigation, takeArrivalNote } from "../annotator/navigation";
import { Overlays } from "../annotator/overlays";
import { carryView, pixelSizeText, planeControls, planeStepper, takeView, type Axis } from "../annotator/planes";
import { PredictionSection } from "../annotator/prediction";
import { presenceNote } from "../annotator/presence";
import { retrainButton } from "../annotator/retrain";
import { reviewBar } from "../annotator/review";
import { saveStateNote } from "../annotator/save-state";
import { Settings } from "../annotator/settings";
import { tagRow } from "../annotator/tags";
import { TileTags } from "../annotator/tile-tags";
import { TiledImage } from "../annotator/tiles";
import { createTools, type ToolContext } from "../annotator/tools";
import { followImage } from "../annotator/updates";
import { ReviewState, submitterOf } from "../annotator/workflow";
import { ProjectSocket } from "../live";
import { imageHref, reviewHref } from "../routes";
import { parseHexColor, type Palette } from "../painter/colors";
import { canAnnotate, canManage, crumbs, errorText, h, messageLine, type Stop } from "../ui";

interface Loaded {
  project: Project;
  image: ImageDetail;
  classes: LabelClass[];
  annotations: Annotation[];
  images: ImageSummary[];
  work: ImageWork;
}

export interface AnnotatorOptions {
  /** Review mode (managers): the submitted images one after another, the author's labels highlighted. */
  review?: boolean;
}

/** Everything the page is made of, once wired. */
type Parts = ReturnType<typeof wire>;

async function load(projectId: number, imageId: number): Promise<Loaded> {
  const [project, image, classes, annotations, images, work] = await Promise.all([
    getProject(projectId),
    getImage(imageId),
    listClasses(projectId),
    listAnnotations(imageId),
    listImages(projectId),
    imageWork(imageId),
  ]);
  classes.sort((a, b) => a.index - b.index); // number keys pick classes in this order
  return { project, image, classes, annotations, images, work };
}

/** The layers, overlays, tools, comments and canvas of one image, connected. */
function wire({ project, image, classes, work }: Loaded, me: string) {
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
  const classId = (): number => classes.find((c) => c.index === settings.classIndex)?.id ?? 0;
  const tileTags = new TileTags(image.id, image.width, image.height, classId, message, () => canvas.invalidateInteractive());
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
    pin: (x, y) => comments.pinAt({ x, y }),
    clickTile: (x, y) => tileTags.click(x, y),
    tileGrid: () => tileTags.view(),
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
    paintRefusal: () => review.paintRefusal(),
    refuse: (reason) => message.error(reason),
    drawStatic: (drawing, view, width, height) => {
      drawing.imageSmoothingEnabled = view.scale < 1;
      picture.draw(drawing, view, width, height);
      drawing.imageSmoothingEnabled = false; // label pixels stay crisp
      overlays.draw(drawing, view, width, height);
      comments.draw(drawing, view);
      const drawn = picture.drawn;
      canvas.interactive.dataset.level = String(drawn.level);
      canvas.interactive.dataset.tiles = `${drawn.ready}/${drawn.wanted}`;
    },
  });
  const overlays = new Overlays(image, palette, layers, canvas.interactive.dataset, () => canvas.invalidate());
  const comments = new ImageComments(image.id, editable, message, () => canvas.invalidate());
  const review = new ReviewState(image.id, image.name, project.role, me, message, work);
  const prediction = new PredictionSection({
    image,
    classes,
    overlays,
    dense: layers.dense,
    editable,
    message,
    accepted: () => settings.setTarget("dense"), // correct the accepted mask straight away
  });
  canvas.node.append(overlays.instantNote);
  picture.onLoad = () => canvas.invalidate();
  for (const layer of Object.values(layers)) layer.onChange = (rect) => overlays.labelsChanged(rect);
  settings.onChange(({ tool }) => {
    canvas.choose(tool);
    canvas.invalidateInteractive();
  });
  return { editable, message, settings, layers, picture, overlays, canvas, comments, review, prediction, tileTags };
}

/** What keys do beyond the parts: "next" (needing labels, or in review the next submitted image),
 * the history, and another plane of a stack. */
interface PageActions {
  next(): Promise<void>;
  history(): Promise<void>;
  plane(axis: Axis, step: number): void;
}

/** Carry out what a key stands for. */
function onKeyAction(action: KeyAction, parts: Parts, classes: LabelClass[], page: PageActions): void {
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
      return void page.next();
    case "review":
      return void parts.review.act(action.move);
    case "history":
      return void page.history();
    case "class":
      if (classes[action.position]) settings.setClass(classes[action.position].index);
      return;
    case "overlay":
      return overlays.setShown(action.name, !overlays.shown[action.name]);
    case "holdToPan":
      return canvas.holdToPan(true);
    case "plane":
      return page.plane(action.axis, action.step);
    case "tile": {
      const refusal = action.key.type === "set" ? parts.review.paintRefusal() : null;
      return refusal ? parts.message.error(refusal) : parts.tileTags.key(action.key);
    }
  }
}

/** Undo (or redo) the latest edit of the layer painted on. */
function undo({ layers, settings, message }: Parts, redo: boolean): void {
  const layer = layers[settings.target];
  if (!(redo ? layer.redo() : layer.undo())) message.info(redo ? "Nothing to redo." : "Nothing to undo.");
}

/** The keyboard, while the page is open; returns what stops listening. */
function listenToKeys(parts: Parts, classes: LabelClass[], page: PageActions): Stop {
  const onKey = (event: KeyboardEvent): void => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    const action = keyAction(event, parts.settings.tool === "tiles");
    if (!action) return;
    if (["undo", "redo", "holdToPan", "review", "tile"].includes(action.type)) event.preventDefault();
    onKeyAction(action, parts, classes, page);
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
  parts.tileTags.load(annotations);
  void overlays.loadDerived(annotations).catch((error) => message.error(`Derived masks: ${errorText(error)}`));
  void parts.prediction.load().catch((error) => message.error(`Prediction: ${errorText(error)}`));
  if (annotations.some((a) => a.kind === "scribble" || a.kind === "dense")) {
    // Only saves of these layers make previews: an image without them has none to ask for.
    void storedPreview(image.id)
      .then((stored) => stored && overlays.showPreview(stored.url, stored.info))
      .catch((error) => message.error(`Preview: ${errorText(error)}`));
  }
}

/** The header, side panel and main column of the page. */
function layout(
  loaded: Loaded,
  parts: Parts,
  socket: ProjectSocket,
  me: string,
  extra: { nodes: HTMLElement[]; saveState: HTMLElement; history: HistoryPanel; reviewNode: HTMLElement | null; planes: HTMLElement | null },
) {
  const { project, image, classes, annotations } = loaded;
  const { editable, message, settings, layers, picture, overlays, canvas, comments, review } = parts;
  const header = crumbs(
    project.id,
    project.name,
    h("strong", { "data-testid": "image-name" }, image.name),
    extra.planes,
    review.node,
    ...extra.nodes,
    retrainButton(project.id, canManage(project.role), Object.values(layers), message, socket),
    extra.saveState,
    presenceNote(socket, image.id, me),
  );
  const panel = h(
    "aside",
    { class: "tools" },
    editable ? null : h("p", { class: "viewer-note", "data-testid": "viewer-note" }, "Viewer: you can look, not paint."),
    ...paintControls(settings, classes, editable, { undo: () => undo(parts, false), redo: () => undo(parts, true) }),
    parts.tileTags.node,
    h("h3", {}, "Overlays"),
    ...overlayControls(overlays, extra.reviewNode !== null),
    parts.prediction.node,
    comments.node,
    h("h3", {}, "Image"),
    imageInfo(image),
    ...imageControls(picture, image.channels, canvas),
  );
  const tags = tagRow(image.id, classes, annotations, editable, message, socket);
  const main = h(
    "div",
    { class: "main" },
    extra.reviewNode,
    canvas.node,
    h("div", { class: "tag-bar" }, h("span", {}, "Image-level tags: "), tags, extra.history.button),
    review.form,
    message.node,
    extra.history.node,
  );
  return [header, h("div", { class: "annotator" }, panel, main)];
}

/** Size, pixel size (when known) and the plane of a stack, under the "Image" heading. */
function imageInfo(image: ImageDetail): HTMLElement {
  const pixelSize = pixelSizeText(image.pixel_size_x, image.pixel_size_y);
  const plane = image.stack === null ? null : `z ${image.z + 1} of ${image.size_z}, t ${image.t + 1} of ${image.size_t}`;
  return h(
    "p",
    { class: "image-info muted", "data-testid": "image-info" },
    `${image.width}×${image.height} px`,
    pixelSize ? h("span", { "data-testid": "pixel-size" }, ` · ${pixelSize}`) : null,
    plane ? ` · ${plane}` : null,
  );
}

export async function showAnnotator(root: HTMLElement, projectId: number, imageId: number, options: AnnotatorOptions = {}): Promise<Stop> {
  const loaded = await load(projectId, imageId);
  const me = document.getElementById("app")?.dataset.user ?? "";
  const socket = new ProjectSocket(projectId);
  const parts = wire(loaded, me);
  const { message, layers, picture, overlays, canvas, comments, review } = parts;
  const inReview = Boolean(options.review) && canManage(loaded.project.role);
  const navigation = imageNavigation(projectId, imageId, loaded.images, message);
  const reviewing = inReview ? reviewBar(projectId, imageId, loaded.image.name, review, message) : null;
  if (inReview) for (const layer of Object.values(layers)) layer.highlight = submitterOf(loaded.work);
  const arrived = takeArrivalNote(imageId);
  if (arrived) message.info(arrived);
  const history = new HistoryPanel(() => review.work, layers, parts.editable);
  const saveState = saveStateNote(layers, message);
  const nodes = reviewing ? [] : navigation.nodes;
  // Each plane of a stack is an image: another plane opens as another image does (and leaving saves).
  const openPlane = (plane: Plane): void => {
    if (loaded.image.stack !== null) carryView(loaded.image.stack, canvas.viewport); // the next plane opens at the same place
    location.hash = inReview ? reviewHref(projectId, plane.id) : imageHref(projectId, plane.id);
  };
  const planes = planeControls(loaded.image.planes, loaded.image.planes.find((p) => p.id === imageId) ?? null, openPlane);
  root.replaceChildren(...layout(loaded, parts, socket, me, { nodes, saveState: saveState.node, history, reviewNode: reviewing?.node ?? null, planes }));
  followImage(socket, { imageId, me, layers, overlays, prediction: parts.prediction, picture, message, redraw: () => canvas.invalidate() });
  review.follow(socket, () => imageWork(imageId));
  review.beforeMove = async () => void (await Promise.all(Object.values(layers).map((layer) => layer.save())));
  review.onMove(() => canvas.invalidate());
  comments.follow(socket, me);
  parts.tileTags.follow(socket);
  void comments.load().catch((error) => message.error(`Comments: ${errorText(error)}`));
  const stopKeys = listenToKeys(parts, loaded.classes, {
    next: reviewing?.next ?? navigation.nextNeedingLabels,
    history: () => history.toggle(),
    plane: planeStepper(loaded.image.planes, imageId, openPlane),
  });
  canvas.resize();
  const kept = takeView(loaded.image.stack);
  if (kept) canvas.show(kept);
  else canvas.fit();
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
