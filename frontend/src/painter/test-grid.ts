// Test helper: label maps drawn as text, one character per pixel ("." = 0, digits = classes),
// so expected pixels in tests can be read and checked by eye.
import type { LabelMap } from "./labelmap";

export function mapFromGrid(rows: string[]): LabelMap {
  const width = rows[0].length;
  const data = new Uint8Array(width * rows.length);
  rows.forEach((line, row) => {
    if (line.length !== width) throw new Error(`row ${row} is ${line.length} wide, not ${width}`);
    for (let col = 0; col < width; col++) data[row * width + col] = line[col] === "." ? 0 : Number(line[col]);
  });
  return { width, height: rows.length, data };
}

export function gridOf(map: LabelMap): string[] {
  const rows: string[] = [];
  for (let row = 0; row < map.height; row++) {
    const values = map.data.subarray(row * map.width, (row + 1) * map.width);
    rows.push(Array.from(values, (v) => (v === 0 ? "." : String(v))).join(""));
  }
  return rows;
}
