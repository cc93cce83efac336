// What is drawn over the image: my labels, the author's (in review), others' labels, derived masks,
// the model's prediction,
// the instant preview and the uncertainty, each in tiles at the level the zoom needs (tiles.ts),
// shown or hidden, each at its own opacity.
import type { Annotation, PaintedKind } from "../api/annotations";
import type { ImageSummary, PreviewInfo } from "../api/images";
import { fetchMap } from "../api/maps";
import { listPredictions } from "../api/runs";
import { rgbaTable, type Palette } from "../painter/colors";
import type { Rect } from "../painter/geometry";
import { createLabelMap } from "../painter/labelmap";
import type { Viewport } from "../painter/viewport";
import { h } from "../ui";
import { labellingLayer } from "./labels";
import { AUTHOR, ME, OTHERS, type EditableLayer } from "./layer";
import { previewNote, previewWins, scaledSource } from "./preview";
import { heatTable, TiledOverlay } from "./tiles";

export type OverlayName = "mine" | "author" | "others" | "derived" | "prediction" | "instant" | "uncertainty";

export const OVERLAY_LABELS: Record<OverlayName, string> = {
  mine: "my labels (M)",
  author: "the author's labels (O)",
  others: "others' labels (T)",
  derived: "derived masks (D)",
  prediction: "model prediction (P)",
  instant: "fast preview (I)",
  uncertainty: "uncertainty (U)",
};

/** Bottom to top. The prediction and the instant preview are two guesses: only the newer is drawn. */
const DRAW_ORDER: OverlayName[] = ["prediction", "instant", "uncertainty", "derived", "others", "author", "mine"];
const INSTANT_NOTE_STYLE =
  "position: absolute; top: 8px; left: 8px; padding: 2px 8px; border: 1px dashed #fff; border-radius: 4px; " +
  "background: rgba(0, 0, 0, 0.65); color: #fff; font-size: 13px; pointer-events: none;";

export class Overlays {
  readonly shown: Record<OverlayName, boolean> = { mine: true, author: true, others: true, derived: false, prediction: true, instant: true, uncertainty: false };
  readonly opacity: Record<OverlayName, number> = { mine: 0.6, author: 0.85, others: 0.45, derived: 0.4, prediction: 0.35, instant: 0.35, uncertainty: 0.5 };
  /** Which model's prediction is loaded, and how unsure it is (under the controls). */
  readonly predictionNote = h("p", { class: "muted" });
  /** "PREVIEW · …" over the canvas while the instant preview is drawn. */
  readonly instantNote = h("div", { class: "instant-note", "data-testid": "instant-note", hidden: true, style: INSTANT_NOTE_STYLE });
  private readonly tiles: Record<OverlayName, TiledOverlay>;
  private readonly shownListeners = new Set<(name: OverlayName, shown: boolean) => void>();
  private preview: PreviewInfo | null = null;
  private predictionMadeAt: number | null = null;

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

  /** The latest model's prediction of the image, and its uncertainty. */
  async loadPrediction(): Promise<void> {
    const predictions = await listPredictions(this.image.project, { image: this.image.id });
    const latest = predictions.sort((a, b) => b.model_version - a.model_version)[0];
    if (!latest) return;
    const [classMap, heat] = await Promise.all([fetchMap(latest.mask_url), fetchMap(latest.uncertainty_url)]);
    this.tiles.prediction.setSource((i) => classMap.data[i]);
    this.tiles.uncertainty.setSource((i) => heat.data[i]);
    this.marks.prediction = String(latest.model_version);
    this.predictionNote.textContent = `prediction of model v${latest.model_version} · mean uncertainty ${latest.uncertainty.toFixed(3)}`;
    this.predictionMadeAt = Date.parse(latest.created_at) / 1000 || Date.now() / 1000;
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
      if ((name === "prediction" && previewDrawn) || (name === "instant" && !previewDrawn)) continue; // the newer guess only
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
