// Undo/redo of painting edits. Generic over the entry so patches, stroke lists or anything else
// the annotator records can share one implementation.

/** How many edits are kept by default: enough for a session, bounded because patches can be large. */
export const DEFAULT_CAPACITY = 100;

/**
 * Turns an entry into what the opposite direction needs. Patches are the case in point:
 * undoing one computes its inverse (applyPatch returns it), and that inverse is what redo applies.
 */
export type Reverse<T> = (entry: T) => T;

export class History<T> {
  private readonly done: T[] = [];
  private readonly undone: T[] = [];

  /** `capacity` edits are kept; pushing one more drops the oldest. */
  constructor(readonly capacity: number = DEFAULT_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }

  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  /** Records a new edit. Anything undone is forgotten: it no longer follows from the current state. */
  push(entry: T): void {
    this.done.push(entry);
    if (this.done.length > this.capacity) this.done.shift();
    this.undone.length = 0;
  }

  /**
   * The newest edit, moved onto the redo stack, or undefined when there is none. With `reverse`,
   * the redo stack receives reverse(entry) instead, e.g. `history.undo((p) => applyPatch(map, p))`.
   */
  undo(reverse?: Reverse<T>): T | undefined {
    return move(this.done, this.undone, reverse);
  }

  /** The most recently undone edit, moved back onto the undo stack; `reverse` as for undo. */
  redo(reverse?: Reverse<T>): T | undefined {
    return move(this.undone, this.done, reverse);
  }

  clear(): void {
    this.done.length = 0;
    this.undone.length = 0;
  }
}

/** Pops `from`, pushes the (reversed) entry onto `to`, and returns the entry as it was popped. */
function move<T>(from: T[], to: T[], reverse: Reverse<T> | undefined): T | undefined {
  if (from.length === 0) return undefined;
  const entry = from.pop() as T;
  to.push(reverse ? reverse(entry) : entry);
  return entry;
}
