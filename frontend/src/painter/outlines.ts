// Object outlines from an instance map (0: no object, k: the k-th object): the pixels of an object
// that touch a pixel of another object, the background or the image's edge. Touching objects get
// an outline each, so a split the server made is visible.

/** 1 where an outline is, 0 elsewhere. Shape: instances (height * width, row-major) -> the same. */
export function objectOutlines(instances: ArrayLike<number>, width: number, height: number): Uint8Array {
  if (instances.length !== width * height) throw new Error(`expected ${width * height} values, got ${instances.length}`);
  const out = new Uint8Array(width * height);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const i = row * width + col;
      const label = instances[i];
      if (!label) continue;
      const edge =
        col === 0 || col === width - 1 || row === 0 || row === height - 1 ||
        instances[i - 1] !== label || instances[i + 1] !== label ||
        instances[i - width] !== label || instances[i + width] !== label;
      if (edge) out[i] = 1;
    }
  }
  return out;
}

/** How many objects an instance map holds (its distinct non-zero labels). */
export function objectCount(instances: ArrayLike<number>): number {
  const labels = new Set<number>();
  for (let i = 0; i < instances.length; i++) if (instances[i]) labels.add(instances[i]);
  return labels.size;
}
