// Tile tags in the annotator: per class, which tiles of the image hold it (present) or not
// (absent), tagged on a grid of a chosen size with the tile tool (tools/tiles.ts) and its keys.
// Every change saves the class's whole set at once, one save at a time; when someone else saved
// first (409) their set is read and this person's unsaved changes are applied on top of it.
import { listAnnotations, saveTileTags, type Annotation, type TileTag } from "../api/annotations";
import { ApiError } from "../api/client";
import type { ProjectSocket } from "../live";
import { errorText, h, type messageLine } from "../ui";
import { TILE_SIZES, nextState, replay, stepTile, tileAt, tileState, withTile, type Rect, type TileChange, type TileKey, type TileState } from "./tile-grid";

interface ClassLayer {
  version: number;
  tiles: TileTag[];
}

/** What the tile tool draws: the grid, the chosen class's tiles and the current tile. */
export interface TileGridView {
  size: number;
  tiles: readonly TileTag[];
  current: Rect | null;
}

export class TileTags {
  size: number = TILE_SIZES[1];
  current: Rect | null = null;
  readonly node: HTMLElement;
  private readonly layers = new Map<number, ClassLayer>();
  private readonly unsaved = new Map<number, TileChange[]>();
  private saving: Promise<void> = Promise.resolve();
  private readonly count = h("span", { class: "muted", "data-testid": "tile-count" });

  constructor(
    private readonly imageId: number,
    private readonly imageWidth: number,
    private readonly imageHeight: number,
    private readonly classId: () => number,
    private readonly message: ReturnType<typeof messageLine>,
    private readonly redraw: () => void,
  ) {
    const sizes = h("select", { "aria-label": "Tile size", "data-testid": "tile-size" }, ...TILE_SIZES.map((s) => h("option", { value: s }, `${s} px`)));
    sizes.value = String(this.size);
    sizes.addEventListener("change", () => this.setSize(Number(sizes.value)));
    this.node = h("label", { class: "tile-controls" }, "Tiles ", sizes, " ", this.count);
  }

  load(annotations: Annotation[]): void {
    for (const a of annotations) if (a.kind === "tiles" && a.label_class !== null) this.take(a);
    this.showCount();
  }

  view(): TileGridView {
    return { size: this.size, tiles: this.layers.get(this.classId())?.tiles ?? [], current: this.current };
  }

  setSize(size: number): void {
    this.size = size;
    this.current = this.current && tileAt(this.current.x, this.current.y, size, this.imageWidth, this.imageHeight);
    this.redraw();
  }

  /** A click: the tile there becomes current and its tag steps on (none, present, absent). */
  click(x: number, y: number): void {
    this.current = tileAt(x, y, this.size, this.imageWidth, this.imageHeight);
    if (this.current) this.set(nextState(tileState(this.view().tiles, this.current)));
  }

  key(action: TileKey): void {
    const { size, imageWidth, imageHeight } = this;
    if (action.type === "move") {
      this.current = this.current ? stepTile(this.current, action.dx, action.dy, size, imageWidth, imageHeight) : tileAt(0, 0, size, imageWidth, imageHeight);
      this.redraw();
    } else if (this.current) this.set(action.state);
    else this.message.info("Click a tile (or press an arrow key) to choose it first.");
  }

  /** Someone saved tile tags on this image: show them, unless a save of ours will meet them as a 409. */
  follow(socket: ProjectSocket): void {
    socket.on("labels.changed", (event) => {
      if (event.image === this.imageId && event.kind === "tiles" && !this.unsaved.get(Number(event.key))?.length) void this.reload();
    });
  }

  private set(state: TileState): void {
    const classId = this.classId();
    const tile = this.current as Rect;
    const layer = this.layers.get(classId) ?? { version: 0, tiles: [] };
    this.layers.set(classId, { ...layer, tiles: withTile(layer.tiles, tile, state) });
    this.unsaved.set(classId, [...(this.unsaved.get(classId) ?? []), { tile, state }]);
    this.showCount();
    this.redraw();
    this.saving = this.saving.then(() => this.save(classId));
  }

  private async save(classId: number): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const sent = this.unsaved.get(classId)?.length ?? 0;
      if (!sent) return;
      const layer = this.layers.get(classId) as ClassLayer;
      try {
        const saved = await saveTileTags(this.imageId, classId, layer.version, layer.tiles);
        this.unsaved.set(classId, (this.unsaved.get(classId) ?? []).slice(sent));
        this.layers.set(classId, { version: saved.version, tiles: replay(saved.data.tiles as TileTag[], this.unsaved.get(classId) ?? []) });
        return;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 409)) return this.failed(classId, error);
        await this.reload(); // theirs, with ours on top; then try again
      }
    }
    this.failed(classId, new Error("Others kept saving these tiles at the same time."));
  }

  private async failed(classId: number, error: unknown): Promise<void> {
    this.unsaved.delete(classId);
    await this.reload();
    this.message.error(`Tile tags not saved: ${errorText(error)} The tiles now show what is saved.`);
  }

  private async reload(): Promise<void> {
    for (const a of await listAnnotations(this.imageId)) if (a.kind === "tiles" && a.label_class !== null) this.take(a);
    this.showCount();
    this.redraw();
  }

  private take(annotation: Annotation): void {
    const saved = annotation.is_deleted ? [] : ((annotation.data.tiles as TileTag[] | undefined) ?? []);
    const classId = annotation.label_class as number;
    this.layers.set(classId, { version: annotation.version, tiles: replay(saved, this.unsaved.get(classId) ?? []) });
  }

  private showCount(): void {
    let present = 0;
    let absent = 0;
    for (const layer of this.layers.values()) for (const tile of layer.tiles) tile[4] ? present++ : absent++;
    this.count.textContent = `${present} present, ${absent} absent (all classes)`;
  }
}
