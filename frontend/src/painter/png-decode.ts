// A greyscale PNG decoder for label-valued maps whose values do not fit a byte: the server writes
// instance maps (one label per object) as 16-bit PNGs, and the browser's image decoding would
// round them to 8 bits. Reads colour type 0 at bit depth 8 or 16, not interlaced, inflated with
// the platform's zlib (DecompressionStream "deflate").

export interface ValueMap {
  width: number;
  height: number;
  /** One value per pixel, row-major. */
  data: Uint16Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

interface Header {
  width: number;
  height: number;
  depth: number;
}

/** The header and the joined IDAT chunks. */
function chunks(bytes: Uint8Array): { header: Header; data: Uint8Array } {
  if (!SIGNATURE.every((byte, i) => bytes[i] === byte)) throw new Error("not a PNG");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header | null = null;
  const parts: Uint8Array[] = [];
  for (let offset = 8; offset + 8 <= bytes.length; ) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      const [depth, colour, , , interlace] = body.subarray(8, 13);
      if (colour !== 0 || (depth !== 8 && depth !== 16) || interlace !== 0) {
        throw new Error(`only 8- or 16-bit greyscale PNGs without interlacing are read (colour type ${colour}, depth ${depth})`);
      }
      header = { width: view.getUint32(offset + 8), height: view.getUint32(offset + 12), depth };
    } else if (type === "IDAT") parts.push(body);
    else if (type === "IEND") break;
    offset += 12 + length;
  }
  if (!header) throw new Error("the PNG has no header");
  const data = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  return { header, data };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undo the per-row filters in place; returns the rows without their filter bytes. */
function unfilter(raw: Uint8Array, rowBytes: number, height: number, bpp: number): Uint8Array {
  const out = new Uint8Array(rowBytes * height);
  for (let row = 0; row < height; row++) {
    const filter = raw[row * (rowBytes + 1)];
    const source = raw.subarray(row * (rowBytes + 1) + 1, (row + 1) * (rowBytes + 1));
    const at = row * rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      const left = i >= bpp ? out[at + i - bpp] : 0;
      const up = row ? out[at - rowBytes + i] : 0;
      const upLeft = row && i >= bpp ? out[at - rowBytes + i - bpp] : 0;
      const predicted = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
      if (predicted === undefined) throw new Error(`unknown PNG filter ${filter} in row ${row}`);
      out[at + i] = (source[i] + predicted) & 0xff;
    }
  }
  return out;
}

export async function decodeGreyPNG(bytes: Uint8Array): Promise<ValueMap> {
  const { header, data } = chunks(bytes);
  const { width, height, depth } = header;
  const bpp = depth / 8;
  const rows = unfilter(await inflate(data), width * bpp, height, bpp);
  const values = new Uint16Array(width * height);
  for (let i = 0; i < values.length; i++) values[i] = bpp === 2 ? (rows[2 * i] << 8) | rows[2 * i + 1] : rows[i];
  return { width, height, data: values };
}
