// Label-valued PNGs from the server (label maps, class maps, uncertainty, previews) read into
// LabelMaps exactly: one value per pixel, no colour management. The URLs come from the other
// api/ modules or from the server's own answers (mask_url, uncertainty_url, event urls).
import { createLabelMap, type LabelMap } from "../painter/labelmap";

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
  const map = createLabelMap(bitmap.width, bitmap.height);
  for (let i = 0; i < map.data.length; i++) map.data[i] = rgba[i * 4];
  return map;
}
