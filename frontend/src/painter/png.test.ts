import { describe, expect, it } from "vitest";
import { encodeGreyPNG } from "./png";

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Split a PNG into its chunks, checking each CRC with an independent bitwise CRC-32. */
function chunks(png: Uint8Array): { type: string; data: Uint8Array }[] {
  const view = new DataView(png.buffer, png.byteOffset);
  const found = [];
  let offset = 8;
  while (offset < png.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    const data = png.subarray(offset + 8, offset + 8 + length);
    let crc = 0xffffffff;
    for (const byte of png.subarray(offset + 4, offset + 8 + length)) {
      crc ^= byte;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    }
    expect(view.getUint32(offset + 8 + length)).toBe((crc ^ 0xffffffff) >>> 0);
    found.push({ type, data });
    offset += 12 + length;
  }
  return found;
}

describe("encodeGreyPNG", () => {
  it("writes a greyscale PNG whose rows hold exactly the label values", async () => {
    const values = Uint8Array.from([0, 1, 2, 3, 4, 5, 250, 0, 7, 8, 9, 1]); // 4 x 3
    const png = await encodeGreyPNG(values, 4, 3);
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const [header, image, end] = chunks(png);
    expect([header.type, image.type, end.type]).toEqual(["IHDR", "IDAT", "IEND"]);
    const view = new DataView(header.data.buffer, header.data.byteOffset);
    expect([view.getUint32(0), view.getUint32(4), header.data[8], header.data[9]]).toEqual([4, 3, 8, 0]);
    const raw = await inflate(image.data);
    expect([...raw]).toEqual([0, 0, 1, 2, 3, 0, 4, 5, 250, 0, 0, 7, 8, 9, 1]);
  });

  it("refuses a buffer of the wrong size", async () => {
    await expect(encodeGreyPNG(new Uint8Array(5), 2, 2)).rejects.toThrow("expected 4 values");
  });
});
