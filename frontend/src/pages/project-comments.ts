// The project's comment threads, open ones first, each linked to its image; new ones and resolved
// ones appear as they happen (comment.added / comment.resolved).
import { projectThreads, type Thread } from "../api/team";
import type { ProjectSocket } from "../live";
import { imageHref } from "../routes";
import { errorText, h } from "../ui";

function threadRow(projectId: number, thread: Thread): HTMLElement {
  const where = thread.x === null ? "whole image" : `at (${Math.round(thread.x)}, ${Math.round(thread.y ?? 0)})`;
  const replies = thread.replies.length ? ` · ${thread.replies.length} repl${thread.replies.length === 1 ? "y" : "ies"}` : "";
  return h(
    "li",
    { class: thread.resolved ? "resolved" : "", "data-thread": thread.id },
    h("a", { href: imageHref(projectId, thread.image) }, thread.image_name),
    h("span", { class: "muted" }, ` ${where} · ${thread.author}${replies}${thread.resolved ? " · resolved" : ""}: `),
    thread.body,
  );
}

export function commentSection(projectId: number, socket: ProjectSocket): HTMLElement {
  const list = h("ul", { class: "thread-list", "data-testid": "project-comments" });
  async function load(): Promise<void> {
    try {
      const threads = await projectThreads(projectId);
      threads.sort((a, b) => Number(a.resolved) - Number(b.resolved)); // open first, each newest first
      list.replaceChildren(...threads.map((thread) => threadRow(projectId, thread)));
      if (!threads.length) list.append(h("li", { class: "muted" }, "No comments yet: pin one on an image in the annotator (C)."));
    } catch (error) {
      list.replaceChildren(h("li", { class: "error" }, `Comments: ${errorText(error)}`));
    }
  }
  socket.on("comment.added", () => void load());
  socket.on("comment.resolved", () => void load());
  void load();
  return h("section", {}, h("h2", {}, "Comments"), list);
}
