// Brush strokes painted into a label map exactly as the server paints them
// (labeling/labelmaps.py: rasterize_strokes), so what the user sees is what gets saved.
import type { Point, Rect } from "./geometry";
import { assertStorable, capturePatch, clipToMap, type LabelMap, type Patch } from "./labelmap";

/** The server's limits on a brush radius, in image pixels (labelmaps.py rejects anything else). */
export const MIN_RADIUS = 0.5;
export const MAX_RADIUS = 512;

/**
 * A round brush dragged along a polyline, in the wire format the server accepts (hence the
 * snake_case): class_index 0 erases; points are [x, y] in image pixels, fractions allowed.
 */
export interface Stroke {
  class_index: number;
  radius: number;
  points: [number, number][];
}

/**
 * The pixels a stroke may touch, as the server bounds each segment: floor(min - r) to
 * ceil(max + r) inclusive on both axes. Not clipped to any image.
 */
export function strokeBounds(stroke: Stroke): Rect {
  // A loop rather than Math.min(...xs): spreading a long stroke could exceed the argument limit.
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x, y] of stroke.points) {
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
  }
  const left = Math.floor(minX - stroke.radius);
  const top = Math.floor(minY - stroke.radius);
  const right = Math.ceil(maxX + stroke.radius) + 1;
  const bottom = Math.ceil(maxY + stroke.radius) + 1;
  return { x: left, y: top, width: right - left, height: bottom - top };
}

/**
 * Paints the stroke into the map in place and returns the undo patch of the touched bounding box,
 * or null when the stroke lies wholly outside the image (nothing was touched).
 * Throws RangeError for what the server would reject: no points, a radius outside
 * [MIN_RADIUS, MAX_RADIUS], a class index that is not a value the map can hold.
 */
export function rasterizeStroke(map: LabelMap, stroke: Stroke): Patch | null {
  assertPaintable(stroke);
  const box = clipToMap(map, strokeBounds(stroke));
  if (box === null) return null;
  const patch = capturePatch(map, box);
  for (const [start, end] of segmentsOf(stroke.points)) {
    paintSegment(map, start, end, stroke.radius, stroke.class_index);
  }
  return patch;
}

function assertPaintable(stroke: Stroke): void {
  if (stroke.points.length === 0) throw new RangeError("a stroke needs at least one point");
  if (!(stroke.radius >= MIN_RADIUS && stroke.radius <= MAX_RADIUS)) {
    throw new RangeError(`radius must be from ${MIN_RADIUS} to ${MAX_RADIUS}, not ${stroke.radius}`);
  }
  assertStorable(stroke.class_index);
}

/** Consecutive point pairs; a single point is a zero-length segment, so it paints a disc. */
function segmentsOf(points: [number, number][]): [Point, Point][] {
  const asPoint = ([x, y]: [number, number]): Point => ({ x, y });
  if (points.length === 1) return [[asPoint(points[0]), asPoint(points[0])]];
  return points.slice(1).map((end, i) => [asPoint(points[i]), asPoint(end)]);
}

/**
 * Sets every pixel whose centre lies within `radius` of the segment. The arithmetic follows the
 * server's numpy expression operation for operation, so float rounding (and therefore which
 * pixels on the rim are in) is identical.
 */
function paintSegment(map: LabelMap, start: Point, end: Point, radius: number, value: number): void {
  const left = Math.max(0, Math.floor(Math.min(start.x, end.x) - radius));
  const right = Math.min(map.width, Math.ceil(Math.max(start.x, end.x) + radius) + 1);
  const top = Math.max(0, Math.floor(Math.min(start.y, end.y) - radius));
  const bottom = Math.min(map.height, Math.ceil(Math.max(start.y, end.y) + radius) + 1);
  const dx = end.x - start.x;
  const dy = end.y - start.y;
  const length2 = dx * dx + dy * dy;
  const radius2 = radius * radius;
  for (let row = top; row < bottom; row++) {
    const py = row + 0.5;
    for (let col = left; col < right; col++) {
      const px = col + 0.5;
      const t = length2 === 0 ? 0 : clamp01(((px - start.x) * dx + (py - start.y) * dy) / length2);
      const ex = px - (start.x + t * dx);
      const ey = py - (start.y + t * dy);
      if (ex * ex + ey * ey <= radius2) map.data[row * map.width + col] = value;
    }
  }
}

function clamp01(t: number): number {
  return Math.min(1, Math.max(0, t));
}
