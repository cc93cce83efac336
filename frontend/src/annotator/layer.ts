// One editable label layer of an image (the shared scribble layer, or the dense mask), kept in
// step with the server without ever dropping anyone's strokes.
//
// `server` is the layer as of `version` on the server; `map` is that plus this page's unsaved
// edits, which are kept as operations. When someone else saves first (409, or a labels.changed
// event), their revisions are applied to `server` and the unsaved operations are replayed on top,
// then saved again: both people's strokes survive. Undo restores only pixels that still hold what
// the undone edit wrote, so undoing never erases a colleague's later stroke. The undo history is
// bounded (painter/history.ts): one stroke or fill is one entry.
import {
  annotationMaskUrl,
  listAnnotations,
  listRevisions,
  saveMask,
  saveStrokes,
  type Annotation,
  type PaintedKind,
  type Revision,
  type Stroke,
} from "../api/annotations";
import { ApiError } from "../api/client";
import { fetchMap } from "../api/maps";
import { floodFill } from "../painter/fill";
import type { Rect } from "../painter/geometry";
import { History } from "../painter/history";
import { createLabelMap, type LabelMap, type Patch } from "../painter/labelmap";
import { encodeGreyPNG } from "../painter/png";
import { rasterizeStroke } from "../painter/raster";

export type SaveState = "saved" | "unsaved" | "saving" | "conflict" | "error";

/** Answers that mean the server will not take these edits, however often they are sent (423: the
 * image is under review, and its labels are a manager's to change until it is sent back). */
const REFUSED = [400, 413, 422, 423];

/** Who last wrote a pixel: shown as "my labels", "others' labels" and, in review, "the author's". */
export const NOBODY = 0;
export const ME = 1;
export const OTHERS = 2;
export const AUTHOR = 3;

type Operation =
  | { type: "stroke"; stroke: Stroke }
  | { type: "fill"; x: number; y: number; value: number }
  | { type: "restore"; patch: Patch; written: Uint8Array };

/** An undoable edit: the rectangle it touched, what was there before and what it wrote. */
interface Edit {
  patch: Patch;
  written: Uint8Array;
}

export class EditableLayer {
  map: LabelMap;
  owners: Uint8Array;
  annotationId: number | null = null;
  version = 0;
  state: SaveState = "saved";
  /** Whose labels are told apart from other people's (AUTHOR): the submitter, in review mode. */
  highlight: string | null = null;
  private server: LabelMap;
  private serverOwners: Uint8Array;
  private unsaved: Operation[] = [];
  private needsMask = false;
  private saving: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly history: History<Edit>;
  /** Called with the rectangle that changed (null: everything) and with each save state. */
  onChange: (rect: Rect | null) => void = () => {};
  onState: (state: SaveState, detail: string) => void = () => {};

  constructor(
    readonly imageId: number,
    readonly kind: PaintedKind,
    private readonly me: string,
    width: number,
    height: number,
    private readonly saveDelayMs = 400,
    undoLimit?: number,
  ) {
    this.server = createLabelMap(width, height);
    this.serverOwners = new Uint8Array(width * height);
    this.map = createLabelMap(width, height);
    this.owners = new Uint8Array(width * height);
    this.history = new History<Edit>(undoLimit);
  }

  /** Load the layer's history from the server (its annotation, when it exists). */
  async load(annotations: Annotation[]): Promise<void> {
    const head = annotations.find((a) => a.kind === this.kind && a.key === "");
    if (head) {
      this.annotationId = head.id;
      await this.pull();
    }
  }

  get hasUnsaved(): boolean {
    return this.unsaved.length > 0 || this.needsMask;
  }

  paint(stroke: Stroke): void {
    this.edit({ type: "stroke", stroke });
  }

  fill(x: number, y: number, value: number): void {
    this.needsMask = true; // a fill is not a stroke: the whole map is sent
    this.edit({ type: "fill", x: Math.floor(x), y: Math.floor(y), value });
  }

  /** Undo this page's latest edit of the layer; false when there is none (left). */
  undo(): boolean {
    return this.history.undo((edit) => this.revert(edit)) !== undefined;
  }

  redo(): boolean {
    return this.history.redo((edit) => this.revert(edit)) !== undefined;
  }

  /** Someone saved this layer (a labels.changed event): take their revisions now. */
  async remoteChanged(annotationId: number, version: number): Promise<void> {
    if (this.annotationId === null) this.annotationId = annotationId;
    if (annotationId !== this.annotationId || version <= this.version) return;
    await this.saving; // a save in flight will meet their change as a 409 and merge it
    if (version > this.version) await this.pull();
  }

  /** Read what the server has now (after a 409 from elsewhere, e.g. accepting a prediction). */
  async reload(): Promise<void> {
    await this.saving;
    if (this.annotationId === null) await this.findLayer();
    await this.pull();
  }

  /** Save now (also called by the autosave timer). */
  async save(): Promise<void> {
    clearTimeout(this.timer);
    if (this.saving) return this.saving;
    if (!this.hasUnsaved) return;
    this.saving = this.send().finally(() => (this.saving = null));
    await this.saving;
    if (this.hasUnsaved && this.state !== "error") this.schedule(); // edits made during the request
  }

  private edit(operation: Operation): void {
    const edit = this.apply(operation, this.map, this.owners);
    if (!edit) return;
    this.unsaved.push(operation);
    this.history.push(edit);
    this.changed(edit.patch);
    this.schedule();
  }

  /** Put back what `edit` overwrote (where nobody has painted since); returns the edit that undoes that. */
  private revert(edit: Edit): Edit {
    const operation: Operation = { type: "restore", patch: edit.patch, written: edit.written };
    const inverse = this.apply(operation, this.map, this.owners);
    this.unsaved.push(operation);
    this.needsMask = true;
    this.changed(edit.patch);
    this.schedule();
    return inverse ?? { patch: { ...edit.patch, before: edit.written }, written: edit.patch.before };
  }

  /** Apply an operation to a map, marking the pixels it changed as mine; returns it as an Edit. */
  private apply(operation: Operation, map: LabelMap, owners: Uint8Array): Edit | null {
    let patch: Patch | null;
    if (operation.type === "stroke") patch = rasterizeStroke(map, operation.stroke);
    else if (operation.type === "fill") patch = floodFill(map, operation.x, operation.y, operation.value);
    else patch = restore(map, operation.patch, operation.written);
    if (!patch) return null;
    const written = new Uint8Array(patch.width * patch.height);
    for (let row = 0; row < patch.height; row++) {
      for (let col = 0; col < patch.width; col++) {
        const index = (patch.y + row) * map.width + patch.x + col;
        const local = row * patch.width + col;
        written[local] = map.data[index];
        if (map.data[index] !== patch.before[local]) owners[index] = map.data[index] ? ME : NOBODY;
      }
    }
    return { patch, written };
  }

  private schedule(): void {
    this.setState("unsaved", "");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.save(), this.saveDelayMs);
  }

  private async send(): Promise<void> {
    const sent = this.unsaved.length;
    const asMask = this.needsMask;
    this.setState("saving", "");
    try {
      const saved = asMask ? await this.postMask() : await this.postStrokes(sent);
      // The server now holds what we sent: move those operations into `server`.
      for (const operation of this.unsaved.slice(0, sent)) this.apply(operation, this.server, this.serverOwners);
      this.unsaved = this.unsaved.slice(sent);
      if (asMask) this.needsMask = this.unsaved.some((op) => op.type !== "stroke");
      this.annotationId = saved.id;
      this.version = saved.version;
      this.setState(this.hasUnsaved ? "unsaved" : "saved", "");
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this.setState("conflict", "someone saved this layer first: merging their strokes with yours…");
        if (this.annotationId === null) await this.findLayer();
        await this.pull();
        return this.send();
      }
      if (error instanceof ApiError && REFUSED.includes(error.status)) {
        // The server will never take these edits (malformed, too large): say so and drop them,
        // rather than retrying forever and blocking every later stroke behind them.
        this.unsaved = this.unsaved.slice(sent);
        this.needsMask = this.unsaved.some((op) => op.type !== "stroke");
        this.rebuild();
        this.setState("error", `The server refused these edits and they were removed: ${error.message}`);
        return;
      }
      // Offline, signed out, or the server is down: the edits are kept and sent again.
      this.setState("error", `Not saved yet (${error instanceof Error ? error.message : String(error)}); retrying.`);
      setTimeout(() => void this.save(), 3000);
    }
  }

  /** `map` = `server` + the unsaved edits. */
  private rebuild(): void {
    this.map.data.set(this.server.data);
    this.owners.set(this.serverOwners);
    for (const operation of this.unsaved) this.apply(operation, this.map, this.owners);
    this.onChange(null);
  }

  private postStrokes(count: number): Promise<Annotation> {
    const strokes = this.unsaved.slice(0, count).map((op) => (op as { stroke: Stroke }).stroke);
    return saveStrokes(this.imageId, this.kind, this.version, strokes);
  }

  private async postMask(): Promise<Annotation> {
    const png = await encodeGreyPNG(this.map.data, this.map.width, this.map.height);
    return saveMask(this.imageId, this.kind, this.version, png);
  }

  private async findLayer(): Promise<void> {
    const annotations = await listAnnotations(this.imageId);
    this.annotationId = annotations.find((a) => a.kind === this.kind && a.key === "")?.id ?? null;
  }

  /** Apply the revisions saved since `version` to `server`, then replay the unsaved edits on top. */
  private async pull(): Promise<void> {
    if (this.annotationId === null) return;
    const revisions = await listRevisions(this.annotationId, this.version);
    for (const revision of revisions) await this.take(revision);
    this.rebuild();
  }

  private async take(revision: Revision): Promise<void> {
    const owner = revision.author === this.me ? ME : revision.author === this.highlight ? AUTHOR : OTHERS;
    if (revision.is_deleted || revision.has_mask) {
      const next = revision.is_deleted
        ? createLabelMap(this.server.width, this.server.height)
        : await fetchMap(annotationMaskUrl(this.annotationId as number, revision.version));
      for (let i = 0; i < next.data.length; i++) {
        if (next.data[i] !== this.server.data[i]) this.serverOwners[i] = next.data[i] ? owner : NOBODY;
      }
      this.server.data.set(next.data);
    } else {
      for (const stroke of revision.data.strokes ?? []) {
        const patch = rasterizeStroke(this.server, stroke);
        if (patch) markOwner(this.server, this.serverOwners, patch, owner);
      }
    }
    this.version = revision.version;
  }

  private changed(patch: Patch): void {
    this.onChange({ x: patch.x, y: patch.y, width: patch.width, height: patch.height });
  }

  private setState(state: SaveState, detail: string): void {
    this.state = state;
    this.onState(state, detail);
  }
}

/** Put back `patch.before` where the map still holds `written`; returns what it changed. */
function restore(map: LabelMap, patch: Patch, written: Uint8Array): Patch | null {
  const before = new Uint8Array(patch.width * patch.height);
  let changed = false;
  for (let row = 0; row < patch.height; row++) {
    for (let col = 0; col < patch.width; col++) {
      const index = (patch.y + row) * map.width + patch.x + col;
      const local = row * patch.width + col;
      before[local] = map.data[index];
      if (map.data[index] === written[local] && written[local] !== patch.before[local]) {
        map.data[index] = patch.before[local];
        changed = true;
      }
    }
  }
  return changed ? { x: patch.x, y: patch.y, width: patch.width, height: patch.height, before } : null;
}

function markOwner(map: LabelMap, owners: Uint8Array, patch: Patch, owner: number): void {
  for (let row = 0; row < patch.height; row++) {
    for (let col = 0; col < patch.width; col++) {
      const index = (patch.y + row) * map.width + patch.x + col;
      if (map.data[index] !== patch.before[row * patch.width + col]) owners[index] = map.data[index] ? owner : NOBODY;
    }
  }
}
