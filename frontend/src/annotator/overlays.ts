// What is drawn over the image: my labels, the author's (in review), others' labels, derived masks,
// a model's prediction (the version annotator/prediction.ts picks) with its objects outlined,
// the instant preview and the uncertainty, each in tiles at the level the zoom needs (tiles.ts),
// shown or hidden, each at its own opacity.
import type { Annotation, PaintedKind } from "../api/annotations";
import type { ImageSummary, PreviewInfo } from "../api/images";
import { fetchMap } from "../api/maps";
import type { Prediction } from "../api/runs";
import { rgbaTable, type Palette } from "../painter/colors";
import type { Rect } from "../painter/geometry";
import { createLabelMap } from "../painter/labelmap";
import { objectCount, objectOutlines } from "../painter/outlines";
import { decodeGreyPNG } from "../painter/png-decode";
import type { Viewport } from "../painter/viewport";
import { h } from "../ui";
import { labellingLayer } from "./labels";
import { AUTHOR, ME, OTHERS, type EditableLayer } from "./layer";
import { previewNote, previewWins, scaledSource } from "./preview";
import { heatTable, TiledOverlay } from "./tiles";

export type OverlayName = "mine" | "author" | "others" | "derived" | "prediction" | "objects" | "instant" | "uncertainty";

export const OVERLAY_LABELS: Record<OverlayName, string> = {
  mine: "my labels (M)",
  author: "the author's labels (O)",
  others: "others' labels (T)",
  derived: "derived masks (D)",
  prediction: "model prediction (P)",
  objects: "object outlines (J)",
  instant: "fast preview (I)",
  uncertainty: "uncertainty (U)",
};

/** Bottom to top. The prediction and the instant preview are two guesses: only the newer is drawn. */
const DRAW_ORDER: OverlayName[] = ["prediction", "objects", "instant", "uncertainty", "derived", "others", "author", "mine"];
/** The outline pixels of a prediction's instance map (a 16-bit PNG), and how many objects it holds. */
async function outlinesOf(url: string): Promise<{ pixels: Uint8Array; objects: number }> {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  if (response.headers.get("Content-Type")?.includes("tiff")) {
    throw new Error("this prediction has more than 65535 objects; they are counted and measured but not outlined");
  }
  const instances = await decodeGreyPNG(new Uint8Array(await response.arrayBuffer()));
  return { pixels: objectOutlines(instances.data, instances.width, instances.height), objects: objectCount(instances.data) };
}

/** Outlines in one colour that stands out over any class colour: 1 = outline. */
const OUTLINE_TABLE = new Uint8ClampedArray([0, 0, 0, 0, 255, 255, 0, 255]);
const INSTANT_NOTE_STYLE =
  "position: absolute; top: 8px; left: 8px; padding: 2px 8px; border: 1px dashed #fff; border-radius: 4px; " +
  "background: rgba(0, 0, 0, 0.65); color: #fff; font-size: 13px; pointer-events: none;";

export class Overlays {
  readonly shown: Record<OverlayName, boolean> = { mine: true, author: true, others: true, derived: false, prediction: true, objects: true, instant: true, uncertainty: false };
  readonly opacity: Record<OverlayName, number> = { mine: 0.6, author: 0.85, others: 0.45, derived: 0.4, prediction: 0.35, objects: 0.9, instant: 0.35, uncertainty: 0.5 };
  /** "PREVIEW · …" over the canvas while the instant preview is drawn. */
  readonly instantNote = h("div", { class: "instant-note", "data-testid": "instant-note", hidden: true, style: INSTANT_NOTE_STYLE });
  private readonly tiles: Record<OverlayName, TiledOverlay>;
  private readonly shownListeners = new Set<(name: OverlayName, shown: boolean) => void>();
  private preview: PreviewInfo | null = null;
  private predictionMadeAt: number | null = null;
  private predictionTicket = 0;

  constructor(
    private readonly image: ImageSummary,
    palette: Palette,
    layers: Record<PaintedKind, EditableLayer>,
    /** The canvas's data attributes: what is drawn, for tests and tools. */
    private readonly marks: DOMStringMap,
    /** Something to draw changed. */
    private readonly changed: () => void,
  ) {
    const labels = rgbaTable(palette, 255);
    const overlay = (table: Uint8ClampedArray): TiledOverlay => new TiledOverlay(image.width, image.height, table);
    this.tiles = {
      mine: overlay(labels),
      author: overlay(labels),
      others: overlay(labels),
      derived: overlay(labels),
      prediction: overlay(labels),
      objects: overlay(OUTLINE_TABLE),
      instant: overlay(labels),
      uncertainty: overlay(heatTable()),
    };
    // The labels as drawn: by the human-label rule, split into mine and others' by who wrote them.
    const labelOf = (wanted: number) => (i: number): number => {
      const top = layers[labellingLayer(layers.scribble.map.data, i)];
      return top.owners[i] === wanted ? top.map.data[i] : 0;
    };
    this.tiles.mine.setSource(labelOf(ME));
    this.tiles.author.setSource(labelOf(AUTHOR));
    this.tiles.others.setSource(labelOf(OTHERS));
  }

  onShown(listener: (name: OverlayName, shown: boolean) => void): void {
    this.shownListeners.add(listener);
  }

  setShown(name: OverlayName, shown: boolean): void {
    this.shown[name] = shown;
    this.shownListeners.forEach((listener) => listener(name, shown));
    this.changed();
  }

  setOpacity(name: OverlayName, opacity: number): void {
    this.opacity[name] = opacity;
    this.changed();
  }

  /** The labels changed in `rect` (null: anywhere). */
  labelsChanged(rect: Rect | null): void {
    this.tiles.mine.changed(rect);
    this.tiles.author.changed(rect);
    this.tiles.others.changed(rect);
    this.changed();
  }

  /** The image's derived masks (pseudo-masks), merged into one overlay. */
  async loadDerived(annotations: Annotation[]): Promise<void> {
    const derived = annotations.filter((a) => a.kind === "derived" && !a.is_deleted && a.mask_url);
    const merged = createLabelMap(derived.length ? this.image.width : 0, derived.length ? this.image.height : 0); // none: no memory
    for (const layer of derived) {
      const map = await fetchMap(layer.mask_url as string);
      for (let i = 0; i < map.data.length; i++) if (map.data[i]) merged.data[i] = map.data[i];
    }
    this.tiles.derived.setSource(derived.length ? (i) => merged.data[i] : null);
    this.changed();
  }

  /**
   * Draw this prediction (null: none), its uncertainty and the outlines of its objects. Outlines
   * that cannot be drawn leave the prediction drawn and are reported to `outlineFailed`. Of two
   * calls in flight, the later one's prediction is drawn.
   */
  async showPrediction(prediction: Prediction | null, outlineFailed: (error: unknown) => void): Promise<void> {
    const ticket = ++this.predictionTicket;
    if (!prediction) {
      for (const name of ["prediction", "uncertainty", "objects"] as const) this.tiles[name].setSource(null);
      delete this.marks.prediction;
      delete this.marks.objects;
      this.predictionMadeAt = null;
      return this.changed();
    }
    const [classMap, heat, outlines] = await Promise.all([
      fetchMap(prediction.mask_url),
      fetchMap(prediction.uncertainty_url),
      prediction.instances_url ? outlinesOf(prediction.instances_url).catch((error) => (outlineFailed(error), null)) : null,
    ]);
    if (ticket !== this.predictionTicket) return; // another prediction was asked for meanwhile
    this.tiles.prediction.setSource((i) => classMap.data[i]);
    this.tiles.uncertainty.setSource((i) => heat.data[i]);
    this.tiles.objects.setSource(outlines ? (i) => outlines.pixels[i] : null);
    if (outlines) this.marks.objects = String(outlines.objects);
    else delete this.marks.objects;
    this.marks.prediction = String(prediction.model_version);
    this.predictionMadeAt = Date.parse(prediction.created_at) / 1000 || Date.now() / 1000;
    this.changed();
  }

  /** An instant preview (annotator/preview.ts): drawn instead of the prediction while it is the newer. */
  async showPreview(url: string, info: PreviewInfo): Promise<void> {
    if (this.preview && info.seq <= this.preview.seq) return; // an older one, late
    const map = await fetchMap(url);
    if (this.preview && info.seq <= this.preview.seq) return;
    this.preview = info;
    this.tiles.instant.setSource(scaledSource(map, this.image.width, this.image.height));
    this.instantNote.textContent = `PREVIEW · ${previewNote(info.images)}`;
    this.changed();
  }

  /** Draw the shown overlays (the context holds the view's transform). */
  draw(context: CanvasRenderingContext2D, view: Viewport, width: number, height: number): void {
    const previewDrawn = this.markPreview();
    for (const name of DRAW_ORDER) {
      if (((name === "prediction" || name === "objects") && previewDrawn) || (name === "instant" && !previewDrawn)) continue; // the newer guess only
      if (this.shown[name]) this.tiles[name].draw(context, view, width, height, this.opacity[name]);
    }
  }

  /** Is the preview drawn (instead of the prediction)? Marks the canvas and shows the note if so. */
  private markPreview(): boolean {
    const drawn = previewWins(this.preview, this.predictionMadeAt) && this.shown.instant;
    this.instantNote.hidden = !drawn;
    if (drawn && this.preview) this.marks.instantPreview = String(this.preview.seq);
    else delete this.marks.instantPreview;
    return drawn;
  }
}
