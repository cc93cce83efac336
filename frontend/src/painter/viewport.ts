// Where the image sits on the canvas: an immutable scale and offset, and everything derived from
// them (coordinate mapping, zoom, pan, fit, visible area, tiles to draw). Pure: the UI keeps the
// current Viewport and replaces it with what these functions return.
import type { Point, Rect } from "./geometry";

/**
 * screen = image * scale + offset, where screen is in canvas CSS pixels and image in image
 * pixels. Readonly so a stored viewport never changes under the code that holds it.
 */
export interface Viewport {
  readonly scale: number;
  readonly offsetX: number;
  readonly offsetY: number;
}

export interface ScaleLimits {
  readonly min: number;
  readonly max: number;
}

/** 1/64 shows an 8192-pixel side in 128 CSS pixels; 64 makes one image pixel a comfortable target. */
export const DEFAULT_LIMITS: ScaleLimits = { min: 1 / 64, max: 64 };

/** Image pixel (0, 0) at the canvas corner, one image pixel per CSS pixel. */
export const IDENTITY: Viewport = { scale: 1, offsetX: 0, offsetY: 0 };

export function clampScale(scale: number, limits: ScaleLimits = DEFAULT_LIMITS): number {
  return Math.min(limits.max, Math.max(limits.min, scale));
}

export function screenToImage(view: Viewport, screen: Point): Point {
  return { x: (screen.x - view.offsetX) / view.scale, y: (screen.y - view.offsetY) / view.scale };
}

export function imageToScreen(view: Viewport, image: Point): Point {
  return { x: image.x * view.scale + view.offsetX, y: image.y * view.scale + view.offsetY };
}

/**
 * Multiplies the scale by `factor` (then clamps it) while the image point under `screen` stays
 * under it, so zooming with the wheel homes in on what the cursor points at.
 */
export function zoomAt(view: Viewport, screen: Point, factor: number, limits: ScaleLimits = DEFAULT_LIMITS): Viewport {
  return scaleAbout(view, screen, clampScale(view.scale * factor, limits));
}

export function panBy(view: Viewport, dx: number, dy: number): Viewport {
  return { scale: view.scale, offsetX: view.offsetX + dx, offsetY: view.offsetY + dy };
}

/** The largest scale (within limits) showing the whole image, centred in the view. */
export function fit(
  imageWidth: number,
  imageHeight: number,
  viewWidth: number,
  viewHeight: number,
  limits: ScaleLimits = DEFAULT_LIMITS,
): Viewport {
  const scale = clampScale(Math.min(viewWidth / imageWidth, viewHeight / imageHeight), limits);
  return {
    scale,
    offsetX: (viewWidth - imageWidth * scale) / 2,
    offsetY: (viewHeight - imageHeight * scale) / 2,
  };
}

/** One image pixel per CSS pixel, keeping the image point at the centre of the view where it is. */
export function oneToOne(view: Viewport, viewWidth: number, viewHeight: number): Viewport {
  return scaleAbout(view, { x: viewWidth / 2, y: viewHeight / 2 }, 1);
}

/** `scale` exactly, with the image point under `screen` kept there. */
function scaleAbout(view: Viewport, screen: Point, scale: number): Viewport {
  const anchor = screenToImage(view, screen);
  return { scale, offsetX: screen.x - anchor.x * scale, offsetY: screen.y - anchor.y * scale };
}

/** The part of image space the view shows (fractional, and not clipped to the image). */
export function visibleImageRect(view: Viewport, viewWidth: number, viewHeight: number): Rect {
  const topLeft = screenToImage(view, { x: 0, y: 0 });
  return { x: topLeft.x, y: topLeft.y, width: viewWidth / view.scale, height: viewHeight / view.scale };
}

/**
 * The pyramid level to draw at `scale`: level L is the image downsampled by 2^L, and the
 * coarsest level whose pixels are still no larger than a screen pixel is picked, so zoomed-out
 * views read a fraction of the pixels without looking blurred. Levels run 0 .. levelCount - 1.
 */
export function pyramidLevel(scale: number, levelCount: number): number {
  const level = Math.floor(Math.log2(1 / scale));
  return Math.min(levelCount - 1, Math.max(0, level));
}

/**
 * One tile of a pyramid level. x, y, width, height are the image pixels it covers (clipped to
 * the image): the source rectangle to downsample into the tile, and where to draw it.
 */
export interface Tile extends Rect {
  level: number;
  col: number;
  row: number;
  /** "level/col/row": stable, for caching tiles in a Map. */
  key: string;
}

/**
 * The tiles of `level` (tileSize level pixels square, i.e. tileSize * 2^level image pixels)
 * that intersect `rect` (image space), row by row, so large images are drawn and cached
 * piecewise. Tiles that merely touch the rect's edge are left out.
 */
export function tilesFor(
  rect: Rect,
  imageWidth: number,
  imageHeight: number,
  tileSize: number,
  level: number,
): Tile[] {
  if (!Number.isInteger(tileSize) || tileSize < 1) throw new RangeError("tileSize must be a positive integer");
  if (!Number.isInteger(level) || level < 0) throw new RangeError("level must be a non-negative integer");
  const span = tileSize * 2 ** level;
  const cols = spanRange(rect.x, rect.width, imageWidth, span);
  const rows = spanRange(rect.y, rect.height, imageHeight, span);
  const tiles: Tile[] = [];
  for (let row = rows.first; row <= rows.last; row++) {
    for (let col = cols.first; col <= cols.last; col++) {
      const x = col * span;
      const y = row * span;
      tiles.push({
        level,
        col,
        row,
        key: `${level}/${col}/${row}`,
        x,
        y,
        width: Math.min(span, imageWidth - x),
        height: Math.min(span, imageHeight - y),
      });
    }
  }
  return tiles;
}

/** First and last tile index along one axis overlapping [start, start + length) within [0, size). */
function spanRange(start: number, length: number, size: number, span: number): { first: number; last: number } {
  const from = Math.max(0, start);
  const to = Math.min(size, start + length);
  if (from >= to) return { first: 0, last: -1 };
  return { first: Math.floor(from / span), last: Math.ceil(to / span) - 1 };
}
