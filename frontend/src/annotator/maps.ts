// Label maps in the browser: read the server's PNG maps exactly, and draw maps as overlays.
import { paintLabelMapRGBA } from "../painter/colors";
import type { LabelMap } from "../painter/raster";

export function emptyMap(width: number, height: number): LabelMap {
  return { width, height, data: new Uint8Array(width * height) };
}

/** The values of a single-channel PNG (label map, class map, uncertainty), without colour management. */
export async function fetchMap(url: string): Promise<LabelMap> {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const bitmap = await createImageBitmap(await response.blob(), {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D;
  context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const map = emptyMap(bitmap.width, bitmap.height);
  for (let i = 0; i < map.data.length; i++) map.data[i] = rgba[i * 4];
  return map;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * A label map drawn as a coloured, see-through overlay on one canvas at image resolution (the
 * training page's small previews). The annotator draws its overlays in tiles instead
 * (annotator/tiles.ts), so large images need no full-resolution canvas.
 */
export class Overlay {
  readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  visible = true;
  opacity = 0.5;

  constructor(
    readonly width: number,
    readonly height: number,
    private palette: Map<number, [number, number, number]>,
  ) {
    this.canvas = document.createElement("canvas");
    this.canvas.width = width;
    this.canvas.height = height;
    this.context = this.canvas.getContext("2d") as CanvasRenderingContext2D;
  }

  /** Repaint `rect` (default: everything) from `map`; `mask` keeps only pixels where it is true. */
  paint(map: LabelMap, rect: Rect = { x: 0, y: 0, width: map.width, height: map.height }, mask?: (index: number) => boolean): void {
    const x = Math.max(0, Math.floor(rect.x));
    const y = Math.max(0, Math.floor(rect.y));
    const width = Math.min(map.width, Math.ceil(rect.x + rect.width)) - x;
    const height = Math.min(map.height, Math.ceil(rect.y + rect.height)) - y;
    if (width <= 0 || height <= 0) return;
    const image = this.context.createImageData(width, height);
    const window: LabelMap = { width, height, data: new Uint8Array(width * height) };
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        const index = (y + row) * map.width + x + col;
        window.data[row * width + col] = !mask || mask(index) ? map.data[index] : 0;
      }
    }
    paintLabelMapRGBA(window, this.palette, 255, image.data);
    this.context.putImageData(image, x, y);
  }

  setPalette(palette: Map<number, [number, number, number]>): void {
    this.palette = palette;
  }
}
