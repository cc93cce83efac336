import { describe, expect, it } from "vitest";
import { encodeGreyPNG } from "./png";
import { decodeGreyPNG } from "./png-decode";

const bytes = (base64: string): Uint8Array => Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));

// Written by the server (labeling.labelmaps.encode_map, Pillow) from these uint16 arrays.
const SMALL_16 = "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACEAAAAADoj+WFAAAAFklEQVR4nGNkYGBgZNRm+P+fgYmBAQAMggIv0+2EggAAAABJRU5ErkJggg==";
const OBJECTS_16 =
  "iVBORw0KGgoAAAANSUhEUgAAAAcAAAAFEAAAAAD8YXVHAAAAIUlEQVR4nGNgQAGMDAxMjAwM/9gYGBgYGH4yocqicdEAAGRTAgbQgqRrAAAAAElFTkSuQmCC";

describe("decodeGreyPNG", () => {
  it("reads the server's 16-bit instance maps exactly, past 255", async () => {
    const map = await decodeGreyPNG(bytes(SMALL_16));
    expect([map.width, map.height]).toEqual([3, 2]);
    expect([...map.data]).toEqual([0, 1, 300, 65535, 2, 0]);
  });

  it("reads two touching objects of a 16-bit map where they are", async () => {
    const map = await decodeGreyPNG(bytes(OBJECTS_16));
    const row = (r: number): number[] => [...map.data.subarray(r * 7, r * 7 + 7)];
    expect(row(0)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(row(2)).toEqual([0, 513, 513, 7, 7, 7, 0]);
    expect(row(4)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it("reads 8-bit maps as our own encoder writes them", async () => {
    const values = Uint8Array.from({ length: 20 }, (_, i) => (i * 37) % 256);
    const map = await decodeGreyPNG(await encodeGreyPNG(values, 5, 4));
    expect([...map.data]).toEqual([...values]);
  });

  it("refuses what is not a PNG", async () => {
    await expect(decodeGreyPNG(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).rejects.toThrow("not a PNG");
  });
});
