// Comments on the open image: its threads in the side panel (reply, resolve), numbered markers on
// the canvas where they are pinned, and the form that a pin (C, then a click) or "on the whole
// image" opens. Everyone's comments arrive live (comment.added, comment.resolved).
import { addComment, listThreads, resolveThread, type Thread } from "../api/team";
import type { ProjectSocket } from "../live";
import type { Viewport } from "../painter/viewport";
import { errorText, h, type messageLine } from "../ui";

const MARKER_RADIUS = 10; // CSS pixels, whatever the zoom

/** Where a thread is pinned, as the list says it. */
export function placeOf(thread: Pick<Thread, "x" | "y">): string {
  return thread.x === null || thread.y === null ? "whole image" : `at (${Math.round(thread.x)}, ${Math.round(thread.y)})`;
}

export class ImageComments {
  readonly node: HTMLElement;
  threads: Thread[] = [];
  private pending: { x: number; y: number } | null = null;
  private readonly list = h("ol", { class: "threads", "data-testid": "comments" });
  private readonly body = h("textarea", { rows: 2, placeholder: "Comment…", "data-testid": "comment-body" });
  private readonly where = h("span", { class: "muted" }, "on the whole image");
  private readonly form: HTMLElement;

  constructor(
    private readonly imageId: number,
    private readonly mayWrite: boolean,
    private readonly message: ReturnType<typeof messageLine>,
    /** The markers changed: draw the canvas again. */
    private readonly changed: () => void,
  ) {
    const add = h("button", { "data-testid": "comment-add", onclick: () => void this.add() }, "Add comment");
    const whole = h("button", { onclick: () => this.pinAt(null) }, "whole image");
    this.form = h("div", { class: "comment-form" }, this.body, h("div", { class: "group" }, add, this.where, whole));
    this.node = h("div", { class: "comments" }, h("h3", {}, "Comments (C pins one)"), this.list, mayWrite ? this.form : null);
  }

  async load(): Promise<void> {
    this.threads = await listThreads(this.imageId);
    this.render();
    this.changed();
  }

  /** Open the form for a comment at (x, y) in image pixels, or on the whole image (null). */
  pinAt(point: { x: number; y: number } | null): void {
    if (!this.mayWrite) {
      this.message.error("Viewers read comments; annotators, managers and owners write them.");
      return;
    }
    this.pending = point;
    this.where.textContent = point ? placeOf(point) : "on the whole image";
    this.changed();
    this.body.focus();
  }

  follow(socket: ProjectSocket, me: string): void {
    socket.on("comment.added", (event) => {
      if (event.image !== this.imageId) return;
      void this.load().catch((error) => this.message.error(`Comments: ${errorText(error)}`));
      if (event.author !== me) this.message.info(`${event.author} commented on ${event.image_name}: “${event.body}”`);
    });
    socket.on("comment.resolved", (event) => {
      if (event.image === this.imageId) void this.load().catch(() => undefined);
    });
  }

  /** Numbered markers where threads are pinned (and the pin being written); the context holds the view. */
  draw(context: CanvasRenderingContext2D, view: Viewport): void {
    const radius = MARKER_RADIUS / view.scale;
    context.save();
    context.font = `bold ${12 / view.scale}px system-ui, sans-serif`;
    context.textAlign = "center";
    context.textBaseline = "middle";
    const pins = this.threads.map((thread, k) => ({ thread, label: String(k + 1) })).filter(({ thread }) => thread.x !== null);
    for (const { thread, label } of pins) this.marker(context, thread.x as number, thread.y as number, radius, label, thread.resolved ? "#adb5bd" : "#ffd43b");
    if (this.pending) this.marker(context, this.pending.x, this.pending.y, radius, "+", "#74c0fc");
    context.restore();
  }

  private marker(context: CanvasRenderingContext2D, x: number, y: number, radius: number, label: string, fill: string): void {
    context.beginPath();
    context.arc(x, y, radius, 0, 2 * Math.PI);
    context.fillStyle = fill;
    context.fill();
    context.lineWidth = 2 / (MARKER_RADIUS / radius);
    context.strokeStyle = "#212529";
    context.stroke();
    context.fillStyle = "#212529";
    context.fillText(label, x, y);
  }

  private async add(): Promise<void> {
    try {
      await addComment(this.imageId, this.body.value, this.pending);
      this.body.value = "";
      this.pending = null;
      this.where.textContent = "on the whole image";
      await this.load();
    } catch (error) {
      this.message.error(`Comment: ${errorText(error)}`);
    }
  }

  private render(): void {
    this.list.replaceChildren(...this.threads.map((thread, k) => this.threadItem(thread, k + 1)));
    if (!this.threads.length) this.list.append(h("li", { class: "muted" }, "No comments on this image."));
  }

  private threadItem(thread: Thread, number: number): HTMLElement {
    const reply = h("input", { placeholder: "Reply…", "aria-label": "Reply" });
    reply.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || !reply.value.trim()) return;
      void addComment(this.imageId, reply.value, null, thread.id)
        .then(() => this.load())
        .catch((error) => this.message.error(`Reply: ${errorText(error)}`));
    });
    const toggle = h("button", { onclick: () => void this.resolve(thread) }, thread.resolved ? "Reopen" : "Resolve");
    return h(
      "li",
      { class: thread.resolved ? "thread resolved" : "thread", "data-testid": "comment-thread", value: number },
      h("div", {}, h("strong", {}, thread.author), h("span", { class: "muted" }, ` ${placeOf(thread)}${thread.resolved ? " · resolved" : ""}`)),
      h("div", { class: "comment-body" }, thread.body),
      ...thread.replies.map((r) => h("div", { class: "reply" }, h("strong", {}, r.author), `: ${r.body}`)),
      this.mayWrite ? h("div", { class: "group" }, reply, toggle) : null,
    );
  }

  private async resolve(thread: Thread): Promise<void> {
    try {
      await resolveThread(thread.id, !thread.resolved);
      await this.load();
    } catch (error) {
      this.message.error(`Comment: ${errorText(error)}`);
    }
  }
}
