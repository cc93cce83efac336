// The image's history, one click (or H) away: its review moves (who submitted, approved, sent back
// and why) and every saved version of its painted layers, each with who saved it and when, and a
// link to the layer's mask as it was then.
import { annotationMaskUrl, listRevisions, type PaintedKind } from "../api/annotations";
import { STATUS_LABELS, type ImageWork } from "../api/team";
import { errorText, h } from "../ui";
import type { EditableLayer } from "./layer";

const when = (at: string | undefined): string => (at ? new Date(at).toLocaleString() : "");

export class HistoryPanel {
  readonly node = h("div", { class: "history", "data-testid": "history", hidden: true });
  readonly button = h("button", { "data-testid": "history-button", onclick: () => void this.toggle() }, "History (H)");

  constructor(
    private readonly work: () => ImageWork,
    private readonly layers: Record<PaintedKind, EditableLayer>,
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
    return revisions
      .slice()
      .reverse()
      .map((revision) => {
        const what = revision.is_deleted ? "deleted" : revision.has_mask ? "whole mask" : `${revision.data.strokes?.length ?? 0} stroke(s)`;
        return h(
          "li",
          {},
          `${kind} v${revision.version} · ${revision.author} · ${when(revision.created_at)} · ${what} `,
          h("a", { href: annotationMaskUrl(id, revision.version), target: "_blank", rel: "noopener" }, "mask"),
        );
      });
  }
}
