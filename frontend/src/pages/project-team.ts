// The project page's team panel: managers assign the selected images (or share the unclaimed ones
// evenly among annotators) and open the review queue; everyone sees their own queue, the
// progress page, and a line for each review move as it happens.
import type { ImageSummary } from "../api/images";
import type { Member, Project } from "../api/projects";
import { assignImages, shareImages, STATUS_LABELS, type ImageStatus } from "../api/team";
import type { ProjectSocket } from "../live";
import { imageHref, progressHref, reviewHref } from "../routes";
import { canManage, errorText, h, messageLine } from "../ui";
import type { ImageGrid } from "./image-grid";

/** My open images, the ones sent back first, then those under way, then those to do; by name. */
const QUEUE_ORDER: ImageStatus[] = ["changes_requested", "in_progress", "todo"];

export function myQueue(images: ImageSummary[], me: string): ImageSummary[] {
  return images
    .filter((image) => image.assignee === me && QUEUE_ORDER.includes(image.status))
    .sort((a, b) => QUEUE_ORDER.indexOf(a.status) - QUEUE_ORDER.indexOf(b.status) || a.name.localeCompare(b.name));
}

const canLabel = (member: Member): boolean => member.role !== "viewer";

/** "Assign the selected images to …" and "share the unclaimed ones among …" (managers). */
function assignControls(project: Project, members: Member[], grid: ImageGrid, message: ReturnType<typeof messageLine>): HTMLElement {
  const who = h("select", { "aria-label": "Assign to", "data-testid": "assignee" }, ...members.filter(canLabel).map((m) => h("option", { value: m.username }, `${m.username} (${m.role})`)));
  const assign = h("button", { "data-testid": "assign", disabled: true }, "Assign selected");
  const unassign = h("button", { disabled: true }, "Unassign");
  grid.onSelection((ids) => {
    assign.disabled = unassign.disabled = !ids.length;
    assign.textContent = ids.length ? `Assign ${ids.length} selected` : "Assign selected";
  });
  const send = async (assignee: string | null): Promise<void> => {
    try {
      const done = await assignImages(project.id, grid.selection(), assignee);
      message.info(`${done.images.length} image(s) ${assignee ? `assigned to ${assignee}` : "unassigned"}.`);
      grid.clearSelection();
      await Promise.all(done.images.map((id) => grid.refresh(id)));
    } catch (error) {
      message.error(errorText(error));
    }
  };
  assign.addEventListener("click", () => void send(who.value));
  unassign.addEventListener("click", () => void send(null));
  const people = members.filter(canLabel).map((m) => h("input", { type: "checkbox", value: m.username, checked: m.role === "annotator" }));
  const count = h("input", { type: "number", min: 1, placeholder: "all", "aria-label": "How many", class: "count" });
  const share = h("button", {}, "Share");
  share.addEventListener("click", async () => {
    const chosen = people.filter((box) => box.checked).map((box) => box.value);
    try {
      const { shares } = await shareImages(project.id, chosen, count.value ? Number(count.value) : null);
      message.info(Object.entries(shares).map(([name, ids]) => `${name}: ${ids.length}`).join(", ") + " image(s) assigned.");
      await Promise.all(Object.values(shares).flat().map((id) => grid.refresh(id)));
    } catch (error) {
      message.error(errorText(error));
    }
  });
  return h(
    "div",
    { class: "team-controls" },
    h("div", { class: "inline-form" }, assign, h("span", {}, " to "), who, unassign),
    h("div", { class: "inline-form" }, h("span", {}, "Share the unlabelled, unassigned images evenly among"), ...people.map((box) => h("label", {}, box, ` ${box.value}`)), count, share),
  );
}

export function teamPanel(project: Project, members: Member[], grid: ImageGrid, me: string, socket: ProjectSocket): HTMLElement {
  const message = messageLine();
  const manager = canManage(project.role);
  const queue = h("ul", { class: "my-queue", "data-testid": "my-queue" });
  const reviewLink = h("a", { class: "button", href: reviewHref(project.id), "data-testid": "review-link" }, "Review submitted");
  const showQueue = (): void => {
    const mine = myQueue(grid.images(), me);
    queue.replaceChildren(...mine.map((image) => h("li", {}, h("a", { href: imageHref(project.id, image.id) }, image.name), ` · ${STATUS_LABELS[image.status]}`)));
    if (!mine.length) queue.append(h("li", { class: "muted" }, "Nothing assigned to you needs work."));
    const waiting = grid.images().filter((image) => image.status === "submitted").length;
    reviewLink.textContent = `Review submitted (${waiting}) →`;
  };
  const changed = async (ids: number[]): Promise<void> => {
    await Promise.all(ids.map((id) => grid.refresh(id)));
    showQueue();
  };
  socket.on("images.assigned", (event) => void changed(event.images));
  socket.on("image.status", (event) => {
    const note = event.note ? `: “${event.note}”` : ".";
    const what = event.status === "changes_requested" ? `Changes requested on ${event.name}` : `${event.name} is ${STATUS_LABELS[event.status as ImageStatus] ?? event.status}`;
    message.info(`${what} by ${event.by}${note}`);
    void changed([event.image]);
  });
  showQueue();
  return h(
    "section",
    { class: "team", "data-testid": "team" },
    h("div", { class: "toolbar" }, h("h2", {}, "Team"), manager ? reviewLink : null, h("a", { class: "button", href: progressHref(project.id) }, "Progress")),
    manager ? assignControls(project, members, grid, message) : null,
    h("h3", {}, "My queue"),
    queue,
    message.node,
  );
}
