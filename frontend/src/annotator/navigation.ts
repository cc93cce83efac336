// Moving between images: previous and next by name (a stack is one step: its planes are moved
// through with the plane slider, annotator/planes.ts), and "next needing labels" (the image the
// server ranks next: most uncertain under the latest model, training/features/guidance.py), whose reason is
// shown on the image it opens.
import type { ImageSummary } from "../api/images";
import { nextImage } from "../api/runs";
import { gridUnits } from "../pages/grid-units";
import { imageHref } from "../routes";
import { errorText, h, type messageLine } from "../ui";

/** Why "next needing labels" opened an image: shown in that image's message line once it is up. */
let arrivalNote: { image: number; text: string } | null = null;

/** Leave a note for the image opened next (shown once, in its message line). */
export function leaveArrivalNote(imageId: number, text: string): void {
  arrivalNote = { image: imageId, text };
}

/** The note left for this image by the page that opened it, once. */
export function takeArrivalNote(imageId: number): string | null {
  const text = arrivalNote?.image === imageId ? arrivalNote.text : null;
  arrivalNote = null;
  return text;
}

export function imageNavigation(projectId: number, imageId: number, images: ImageSummary[], message: ReturnType<typeof messageLine>) {
  const units = gridUnits(images);
  const ordered = units.map((unit) => unit.image);
  const position = units.findIndex((unit) => unit.planes.some((plane) => plane.id === imageId));
  const go = (target?: ImageSummary): void => {
    if (target) location.hash = imageHref(projectId, target.id);
  };

  async function nextNeedingLabels(): Promise<void> {
    try {
      const next = await nextImage(projectId, imageId);
      if (!next.image) {
        message.info(next.reason);
        return;
      }
      const rank = next.rank ? ` (rank ${next.rank} of ${next.of})` : "";
      const hint = next.uncertainty !== null ? "; U shows where the model is unsure" : "";
      arrivalNote = { image: next.image.id, text: `${next.image.name}: ${next.reason}${rank}${hint}.` };
      go(next.image);
    } catch (error) {
      message.error(`Next image: ${errorText(error)}`);
    }
  }

  const nodes = [
    h("span", { class: "muted" }, ` ${position + 1} of ${ordered.length}`),
    h("button", { onclick: () => go(ordered[position - 1]), disabled: position <= 0 }, "← previous"),
    h("button", { onclick: () => go(ordered[position + 1]), disabled: position >= ordered.length - 1 }, "next →"),
    h("button", { onclick: () => void nextNeedingLabels() }, "next needing labels (N)"),
  ];
  return { nodes, nextNeedingLabels };
}
