// The tile-tag grid's geometry and keys, pure: which tile a point is in, moving the current tile,
// setting a tile's tag in a class's set of tiles. Tiles are whole image pixels; the grid starts at
// the image's corner and its last row and column are cut short at the image's edge, as the server
// allows (labeling/tiletags.py).
import type { TileTag } from "../api/annotations";

/** The tile sizes the grid offers, in image pixels. */
export const TILE_SIZES = [128, 256, 512] as const;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A tile's tag: present, absent, or none (cleared). */
export type TileState = boolean | null;

/** What a key does in the tile-tag tool: tag the current tile, or move it. */
export type TileKey = { type: "set"; state: TileState } | { type: "move"; dx: number; dy: number };

const TILE_KEYS: Record<string, TileKey> = {
  p: { type: "set", state: true },
  a: { type: "set", state: false },
  "0": { type: "set", state: null },
  backspace: { type: "set", state: null },
  delete: { type: "set", state: null },
  arrowleft: { type: "move", dx: -1, dy: 0 },
  arrowright: { type: "move", dx: 1, dy: 0 },
  arrowup: { type: "move", dx: 0, dy: -1 },
  arrowdown: { type: "move", dx: 0, dy: 1 },
};

/** The tile-tag tool's own keys (P present, A absent, 0 / Delete clear, arrows move), or null. */
export function tileKey(key: string): TileKey | null {
  const name = key.toLowerCase();
  return Object.hasOwn(TILE_KEYS, name) ? TILE_KEYS[name] : null;
}

/** The grid tile of `size` that holds the image point (x, y), cut at the image's edge; null off the image. */
export function tileAt(x: number, y: number, size: number, imageWidth: number, imageHeight: number): Rect | null {
  if (x < 0 || y < 0 || x >= imageWidth || y >= imageHeight) return null;
  const left = Math.floor(x / size) * size;
  const top = Math.floor(y / size) * size;
  return { x: left, y: top, width: Math.min(size, imageWidth - left), height: Math.min(size, imageHeight - top) };
}

/** The tile `dx` columns and `dy` rows from `from` (which may be of another size), kept on the image. */
export function stepTile(from: Rect, dx: number, dy: number, size: number, imageWidth: number, imageHeight: number): Rect {
  const columns = Math.ceil(imageWidth / size);
  const rows = Math.ceil(imageHeight / size);
  const column = Math.min(columns - 1, Math.max(0, Math.floor(from.x / size) + dx));
  const row = Math.min(rows - 1, Math.max(0, Math.floor(from.y / size) + dy));
  return tileAt(column * size, row * size, size, imageWidth, imageHeight) as Rect;
}

const overlaps = (a: Rect, [x, y, width, height]: TileTag): boolean =>
  a.x < x + width && x < a.x + a.width && a.y < y + height && y < a.y + a.height;

const same = (a: Rect, [x, y, width, height]: TileTag): boolean => a.x === x && a.y === y && a.width === width && a.height === height;

/** The state of exactly this tile in a set (a tile of another size over it does not count). */
export function tileState(tiles: readonly TileTag[], tile: Rect): TileState {
  const found = tiles.find((t) => same(tile, t));
  return found ? found[4] : null;
}

/** The set with `tile` tagged `state` (null: cleared); tiles it overlaps (of another grid size) give way, so tiles never overlap. */
export function withTile(tiles: readonly TileTag[], tile: Rect, state: TileState): TileTag[] {
  const kept = tiles.filter((t) => !overlaps(tile, t));
  return state === null ? kept : [...kept, [tile.x, tile.y, tile.width, tile.height, state]];
}

/** A click steps a tile's tag: none -> present -> absent -> none. */
export const nextState = (state: TileState): TileState => (state === null ? true : state ? false : null);

/** A tile tagged (or cleared) by this person and not saved yet. */
export interface TileChange {
  tile: Rect;
  state: TileState;
}

/** Someone else's saved set with this person's unsaved changes on top, in order: the merge after a 409. */
export const replay = (tiles: readonly TileTag[], changes: readonly TileChange[]): TileTag[] =>
  changes.reduce<TileTag[]>((set, change) => withTile(set, change.tile, change.state), [...tiles]);
