// Review mode's entry (#/projects/<id>/review): the submitted image that has waited longest, opened
// in the annotator in review mode (annotator/review.ts walks on from there), or a note that there
// is nothing to review.
import { getProject } from "../api/projects";
import { reviewQueue } from "../api/team";
import { projectHref, reviewHref } from "../routes";
import { crumbs, h, type Stop } from "../ui";

export async function showReviewQueue(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, queue] = await Promise.all([getProject(projectId), reviewQueue(projectId)]);
  if (queue.length) {
    location.replace(reviewHref(projectId, queue[0].image));
    return () => {};
  }
  root.replaceChildren(
    crumbs(projectId, project.name, h("strong", {}, "Review")),
    h("p", { "data-testid": "review-empty" }, "Nothing to review: no image is submitted. "),
    h("a", { href: projectHref(projectId) }, "Back to the project"),
  );
  return () => {};
}
