// Review mode (#/projects/<id>/review/<image>, managers): the submitted images one after another,
// longest waiting first. Approving (V) or sending back (R) opens the next one; N skips to it. The
// author's labels are highlighted (the "author" overlay) and the history is one click (H) away.
import { reviewQueue, type Waiting } from "../api/team";
import { projectHref, reviewHref } from "../routes";
import { errorText, h, type messageLine } from "../ui";
import { leaveArrivalNote } from "./navigation";
import type { ReviewState } from "./workflow";

/** The submitted image after `current` in the queue (going round), or null when it is the only one left. */
export function nextToReview(queue: Pick<Waiting, "image">[], current: number): number | null {
  const others = queue.map((entry) => entry.image);
  const position = others.indexOf(current);
  const ordered = position < 0 ? others : [...others.slice(position + 1), ...others.slice(0, position)];
  return ordered.find((id) => id !== current) ?? null;
}

export function reviewBar(projectId: number, imageId: number, name: string, state: ReviewState, message: ReturnType<typeof messageLine>) {
  const where = h("span", { "data-testid": "review-position" }, "Review");
  const node = h(
    "div",
    { class: "review-bar", "data-testid": "review-bar" },
    where,
    h("button", { onclick: () => void next() }, "Skip → (N)"),
    h("a", { href: projectHref(projectId) }, "Leave review"),
  );

  // One move opens the next image once, and only while this image is still the page shown: the
  // queue loads after the move, and the user may have gone elsewhere meanwhile.
  const here = reviewHref(projectId, imageId);
  let leaving = false;
  async function next(note?: string): Promise<void> {
    if (leaving) return;
    leaving = true;
    try {
      const target = nextToReview(await reviewQueue(projectId), imageId);
      if (location.hash !== here) return;
      if (note && target !== null) leaveArrivalNote(target, note);
      location.hash = reviewHref(projectId, target ?? undefined);
    } catch (error) {
      leaving = false;
      message.error(`Review: ${errorText(error)}`);
    }
  }

  state.onMove((_work, move) => {
    if (move === "approve") void next(`Approved ${name}.`);
    if (move === "request_changes") void next(`Sent ${name} back for changes.`);
  });
  void reviewQueue(projectId)
    .then((queue) => {
      const position = queue.findIndex((entry) => entry.image === imageId);
      const by = state.work.assignee ? ` · by ${state.work.assignee}` : "";
      where.textContent = position < 0 ? `Review · ${name} is not waiting for review` : `Review · ${position + 1} of ${queue.length} submitted${by}`;
    })
    .catch((error) => message.error(`Review: ${errorText(error)}`));
  return { node, next: () => next() };
}
