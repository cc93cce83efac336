// The image and its overlays drawn tile by tile, at the pyramid level that fits the zoom, so an
// 8192x8192 image never needs a full-resolution canvas: the image comes from the server's display
// tiles (GET …/channels/<name>/tiles/<level>/<col>/<row>.png), each overlay is painted from its
// label map into tiles on demand. Only the tiles in view are fetched, painted and drawn; a bounded
// number of them is kept for panning back.
import { channelTileUrl } from "../api/images";
import { fetchMap } from "../api/maps";
import { levelCount, levelRegion, paintLevelRGBA, TILE_SIZE } from "../painter/pyramid";
import type { Rect } from "../painter/geometry";
import { pyramidLevel, tilesFor, visibleImageRect, type Tile, type Viewport } from "../painter/viewport";

/** Tiles kept per image or overlay: about 1 MB each; a 1280x800 view shows at most 24. */
const KEPT_TILES = 64;
/** Tile requests in flight at once (a browser opens about 6 connections per host). */
const PARALLEL_FETCHES = 6;
/** Composite tints of channels 1, 2, 3, 4 (grey, green, magenta, cyan). */
const TINTS: [number, number, number][] = [
  [1, 1, 1],
  [0, 1, 0],
  [1, 0, 1],
  [0, 1, 1],
];

/** What the last frame drew: for the page's state and for tests. */
export interface DrawnTiles {
  level: number;
  wanted: number;
  ready: number;
}

interface Cached {
  tile: Tile;
  canvas: HTMLCanvasElement | null;
  used: number;
}

/** Level pixels of a tile (tile.width is in image pixels). */
const levelSize = (tile: Tile): { width: number; height: number } => ({
  width: Math.ceil(tile.width / 2 ** tile.level),
  height: Math.ceil(tile.height / 2 ** tile.level),
});

function drawTileCanvas(context: CanvasRenderingContext2D, tile: Tile, canvas: HTMLCanvasElement): void {
  const factor = 2 ** tile.level;
  context.drawImage(canvas, 0, 0, canvas.width, canvas.height, tile.x, tile.y, canvas.width * factor, canvas.height * factor);
}

/** Forget the least recently drawn tiles beyond KEPT_TILES, never those `keep` says to keep. */
function evict<T extends Cached>(tiles: Map<string, T>, keep: (entry: T) => boolean): void {
  if (tiles.size <= KEPT_TILES) return;
  const old = [...tiles.entries()].filter(([, entry]) => !keep(entry)).sort((a, b) => a[1].used - b[1].used);
  for (const [key] of old.slice(0, tiles.size - KEPT_TILES)) tiles.delete(key);
}

interface ImageTile extends Cached {
  values: (Uint8Array | undefined)[];
  rendered: number;
}

/** The image's channels as display tiles, with contrast and the channel mix applied here. */
export class TiledImage {
  readonly levels: number;
  /** Called when a tile arrives, so the page draws again. */
  onLoad: () => void = () => {};
  drawn: DrawnTiles = { level: 0, wanted: 0, ready: 0 };
  private readonly tiles = new Map<string, ImageTile>();
  private queue: [Tile, number][] = [];
  private readonly loading = new Set<string>();
  private readonly failed = new Set<string>();
  private frame = 0;
  private generation = 0;
  private used: number[] = [0];
  private composite = false;
  private lut = new Uint8ClampedArray(256).map((_, v) => v);

  constructor(
    private readonly imageId: number,
    private readonly channels: string[],
    readonly width: number,
    readonly height: number,
  ) {
    this.levels = levelCount(width, height);
  }

  /** Fetch the coarsest level (the whole image in one tile or a few) of every channel. */
  async loadOverview(): Promise<void> {
    const tiles = this.levelTiles(this.levels - 1, { x: 0, y: 0, width: this.width, height: this.height });
    await Promise.all(tiles.flatMap((tile) => this.channels.map((_, k) => this.fetch(tile, k, true))));
  }

  /** Ask again for tiles that failed, e.g. once a worker has made the display rendition. */
  retry(): Promise<void> {
    this.failed.clear();
    return this.loadOverview();
  }

  /** Show channel `mode` (an index) or all channels tinted ("composite"), mapping [low, high] to black..white. */
  setContrast(mode: string, low: number, high: number): void {
    this.composite = mode === "composite";
    this.used = this.composite ? this.channels.map((_, k) => k) : [Number(mode)];
    const scale = 255 / Math.max(1, high - low);
    this.lut = new Uint8ClampedArray(256).map((_, v) => (v - low) * scale);
    this.generation++;
  }

  /** Histogram of the shown channel(s) over the coarsest level: the whole image, cheaply. */
  overviewHistogram(): Uint32Array {
    const histogram = new Uint32Array(256);
    for (const tile of this.levelTiles(this.levels - 1, { x: 0, y: 0, width: this.width, height: this.height })) {
      const entry = this.tiles.get(tile.key);
      for (const k of this.used) for (const value of entry?.values[k] ?? []) histogram[value]++;
    }
    return histogram;
  }

  /** Draw what `view` shows (the context already holds the view's transform). */
  draw(context: CanvasRenderingContext2D, view: Viewport, viewWidth: number, viewHeight: number): void {
    this.frame++;
    const rect = visibleImageRect(view, viewWidth, viewHeight);
    const level = pyramidLevel(view.scale, this.levels);
    const top = this.levels - 1;
    // The coarsest level is always there: it fills in, blurred, where finer tiles are on the way.
    if (level !== top) for (const tile of this.levelTiles(top, rect)) this.drawTile(context, tile);
    const wanted = this.levelTiles(level, rect);
    let ready = 0;
    for (const tile of wanted) if (this.drawTile(context, tile)) ready++;
    this.queue = wanted.flatMap((tile) => this.used.map((k): [Tile, number] => [tile, k])).filter(([tile, k]) => this.missing(tile, k));
    this.pump();
    this.drawn = { level, wanted: wanted.length, ready };
    evict(this.tiles, (entry) => entry.tile.level === top || entry.used === this.frame);
  }

  private levelTiles(level: number, rect: Rect): Tile[] {
    return tilesFor(rect, this.width, this.height, TILE_SIZE, level);
  }

  private drawTile(context: CanvasRenderingContext2D, tile: Tile): boolean {
    const entry = this.tiles.get(tile.key);
    if (!entry || this.used.some((k) => !entry.values[k])) return false;
    entry.used = this.frame;
    if (entry.rendered !== this.generation || !entry.canvas) this.render(entry);
    drawTileCanvas(context, tile, entry.canvas as HTMLCanvasElement);
    return true;
  }

  private render(entry: ImageTile): void {
    const { width, height } = levelSize(entry.tile);
    entry.canvas ??= Object.assign(document.createElement("canvas"), { width, height });
    const context = entry.canvas.getContext("2d") as CanvasRenderingContext2D;
    const out = context.createImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const k of this.used) {
        const value = this.lut[(entry.values[k] as Uint8Array)[i]];
        const tint = this.composite ? TINTS[k % TINTS.length] : TINTS[0];
        r += value * tint[0];
        g += value * tint[1];
        b += value * tint[2];
      }
      out.data[i * 4] = r;
      out.data[i * 4 + 1] = g;
      out.data[i * 4 + 2] = b;
      out.data[i * 4 + 3] = 255;
    }
    context.putImageData(out, 0, 0);
    entry.rendered = this.generation;
  }

  private missing(tile: Tile, channel: number): boolean {
    const id = `${tile.key}:${channel}`;
    return !this.tiles.get(tile.key)?.values[channel] && !this.loading.has(id) && !this.failed.has(id);
  }

  private pump(): void {
    while (this.loading.size < PARALLEL_FETCHES && this.queue.length) {
      const [tile, channel] = this.queue.shift() as [Tile, number];
      void this.fetch(tile, channel, false);
    }
  }

  private async fetch(tile: Tile, channel: number, strict: boolean): Promise<void> {
    const id = `${tile.key}:${channel}`;
    this.loading.add(id);
    try {
      const map = await fetchMap(channelTileUrl(this.imageId, this.channels[channel], tile));
      let entry = this.tiles.get(tile.key);
      if (!entry) {
        entry = { tile, canvas: null, used: this.frame, values: [], rendered: -1 };
        this.tiles.set(tile.key, entry);
      }
      entry.values[channel] = map.data;
      entry.rendered = -1;
      this.onLoad();
    } catch (error) {
      this.failed.add(id); // not asked again on every frame; the coarser level still shows
      if (strict) throw error;
    } finally {
      this.loading.delete(id);
      this.pump();
    }
  }
}

interface OverlayTile extends Cached {
  /** Image pixels to repaint before the tile is drawn next, or null when it is up to date. */
  dirty: Rect | null;
}

/**
 * A label-valued image (a label map, the prediction, the uncertainty) drawn as a see-through
 * overlay, painted into tiles at the level in view. `value(index)` reads the current value of an
 * image pixel, so the overlay follows its source; `changed(rect)` says which pixels moved on.
 */
export class TiledOverlay {
  readonly levels: number;
  private readonly tiles = new Map<string, OverlayTile>();
  private value: ((index: number) => number) | null = null;
  private frame = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly table: Uint8ClampedArray,
  ) {
    this.levels = levelCount(width, height);
  }

  /** Show another source (null: nothing), e.g. a newer prediction. */
  setSource(value: ((index: number) => number) | null): void {
    this.value = value;
    this.changed(null);
  }

  /** Pixels in `rect` (image space; null: all) changed: repaint them where they are drawn next. */
  changed(rect: Rect | null): void {
    for (const entry of this.tiles.values()) {
      const tile = entry.tile;
      const part = rect ? intersect(rect, tile) : tile;
      if (part) entry.dirty = entry.dirty ? union(entry.dirty, part) : part;
    }
  }

  draw(context: CanvasRenderingContext2D, view: Viewport, viewWidth: number, viewHeight: number, alpha: number): void {
    if (!this.value) return;
    this.frame++;
    const level = pyramidLevel(view.scale, this.levels);
    context.globalAlpha = alpha;
    for (const tile of tilesFor(visibleImageRect(view, viewWidth, viewHeight), this.width, this.height, TILE_SIZE, level)) {
      let entry = this.tiles.get(tile.key);
      if (!entry) {
        const canvas = Object.assign(document.createElement("canvas"), levelSize(tile));
        entry = { tile, canvas, used: 0, dirty: tile };
        this.tiles.set(tile.key, entry);
      }
      entry.used = this.frame;
      if (entry.dirty) this.repaint(entry, entry.dirty);
      drawTileCanvas(context, tile, entry.canvas as HTMLCanvasElement);
    }
    context.globalAlpha = 1;
    evict(this.tiles, (entry) => entry.used === this.frame);
  }

  private repaint(entry: OverlayTile, dirty: Rect): void {
    const { tile } = entry;
    const part = levelRegion(tile, tile.level, dirty);
    entry.dirty = null;
    if (!part || !this.value) return;
    const factor = 2 ** tile.level;
    const context = (entry.canvas as HTMLCanvasElement).getContext("2d") as CanvasRenderingContext2D;
    const out = context.createImageData(part.width, part.height);
    const region = { ...part, x: tile.x / factor + part.x, y: tile.y / factor + part.y };
    paintLevelRGBA(this.value, this.width, this.height, tile.level, region, this.table, out.data);
    context.putImageData(out, part.x, part.y);
  }
}

function intersect(a: Rect, b: Rect): Rect | null {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const right = Math.min(a.x + a.width, b.x + b.width);
  const bottom = Math.min(a.y + a.height, b.y + b.height);
  return right > x && bottom > y ? { x, y, width: right - x, height: bottom - y } : null;
}

function union(a: Rect, b: Rect): Rect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

/** Uncertainty 0..255 as heat: transparent where the model is sure, red where it is not. */
export function heatTable(): Uint8ClampedArray {
  const table = new Uint8ClampedArray(256 * 4);
  for (let v = 0; v < 256; v++) table.set([255, 255 - v, 0, v], v * 4);
  return table;
}
