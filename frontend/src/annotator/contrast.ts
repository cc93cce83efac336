// Auto contrast: map the 0.5th to the 99.5th percentile of the shown channel(s) onto black..white,
// so a few saturated or dead pixels do not wash the image out. Pure.

/** Share of pixels clipped at each end. */
export const CLIPPED = 0.005;

/** [low, high] display limits (0..255, low < high) from a 256-bin histogram of 8-bit values. */
export function autoContrast(histogram: ArrayLike<number>): { low: number; high: number } {
  let total = 0;
  for (let v = 0; v < 256; v++) total += histogram[v];
  let seen = 0;
  let low = 0;
  let high = 255;
  for (let v = 0; v < 256; v++) {
    seen += histogram[v];
    if (seen <= total * CLIPPED) low = v;
    if (seen < total * (1 - CLIPPED)) high = v + 1;
  }
  return { low, high: Math.max(high, low + 1) };
}
