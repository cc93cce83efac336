// The image's history, one click (or H) away: its review moves (who submitted, approved, sent back
// and why) and every saved version of its painted layers, each with who saved it and when (and the
// model version, for an accepted prediction), a link to the layer's mask as it was then, and a
// button that restores it (as a new version: the history only grows).
import { annotationMaskUrl, listRevisions, restoreRevision, type PaintedKind, type Revision } from "../api/annotations";
import { STATUS_LABELS, type ImageWork } from "../api/team";
import { errorText, h } from "../ui";
import type { EditableLayer } from "./layer";

const when = (at: string | undefined): string => (at ? new Date(at).toLocaleString() : "");

function what(revision: Revision): string {
  if (revision.is_deleted) return "deleted";
  const model = revision.data.provenance?.model_version;
  if (revision.has_mask) return model ? `model v${model}'s prediction, accepted` : "whole mask";
  return `${revision.data.strokes?.length ?? 0} stroke(s)`;
}

export class HistoryPanel {
  readonly node = h("div", { class: "history", "data-testid": "history", hidden: true });
  readonly button = h("button", { "data-testid": "history-button", onclick: () => void this.toggle() }, "History (H)");

  constructor(
    private readonly work: () => ImageWork,
    private readonly layers: Record<PaintedKind, EditableLayer>,
    /** May this person restore a version (annotators and up)? */
    private readonly editable: boolean,
  ) {}

  async toggle(): Promise<void> {
    this.node.hidden = !this.node.hidden;
    if (!this.node.hidden) await this.fill();
  }

  private async fill(): Promise<void> {
    this.node.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    try {
      const moves = this.work().history.map((change) =>
        h("li", {}, `${when(change.at)} · ${change.by}: ${change.move.replace("_", " ")} → ${STATUS_LABELS[change.status]}`, change.note ? ` (“${change.note}”)` : ""),
      );
      const layers = await Promise.all((Object.entries(this.layers) as [PaintedKind, EditableLayer][]).map(([kind, layer]) => this.layerItems(kind, layer)));
      this.node.replaceChildren(
        h("h3", {}, "Review"),
        h("ul", {}, ...(moves.length ? moves : [h("li", { class: "muted" }, "Not moved yet: to do.")])),
        h("h3", {}, "Label versions"),
        h("ul", {}, ...layers.flat()),
      );
    } catch (error) {
      this.node.replaceChildren(h("p", { class: "error" }, `History: ${errorText(error)}`));
    }
  }

  private async layerItems(kind: PaintedKind, layer: EditableLayer): Promise<HTMLElement[]> {
    const id = layer.annotationId;
    if (id === null) return [h("li", { class: "muted" }, `${kind}: none yet`)];
    const revisions = await listRevisions(id, 0);
    const head = revisions.at(-1)?.version;
    return revisions
      .slice()
      .reverse()
      .map((revision) => {
        const restore = h("button", { "data-testid": "restore", onclick: () => void this.restore(layer, id, revision.version) }, "Restore");
        return h(
          "li",
          { "data-kind": kind, "data-version": revision.version },
          `${kind} v${revision.version} · ${revision.author} · ${when(revision.created_at)} · ${what(revision)} `,
          h("a", { href: annotationMaskUrl(id, revision.version), target: "_blank", rel: "noopener" }, "mask"),
          revision.version !== head && this.editable ? restore : null,
        );
      });
  }

  /** Make the layer what it was at `version` (a new version), then show it and the history again. */
  private async restore(layer: EditableLayer, id: number, version: number): Promise<void> {
    try {
      await layer.save(); // the restore names the version it replaces
      const head = await restoreRevision(id, version, layer.version);
      await layer.remoteChanged(head.id, head.version);
      await this.fill();
    } catch (error) {
      this.node.prepend(h("p", { class: "error" }, `Restore: ${errorText(error)}`));
    }
  }
}
