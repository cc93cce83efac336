// The image's place in review, in the annotator: its status and assignee as a badge, and the moves
// this person may make (submit S, withdraw, approve V, request changes R with a note). The server
// decides (labeling/workflow.py); a refused move shows its reason. Others' moves arrive live.
import type { Role } from "../api/projects";
import { moveImage, STATUS_LABELS, type ImageWork, type Move } from "../api/team";
import type { ProjectSocket } from "../live";
import { canAnnotate, canManage, errorText, h, type messageLine } from "../ui";

type Message = ReturnType<typeof messageLine>;

/** Who submitted the image last (whose labels review is about), else its assignee. */
export function submitterOf(work: ImageWork): string | null {
  return [...work.history].reverse().find((change) => change.move === "submit")?.by ?? work.assignee;
}

/** Why this person may not paint the image now, or null (the server refuses such saves with 423). */
export function paintRefusal(work: ImageWork, role: Role | null, name: string): string | null {
  if (!canAnnotate(role)) return "You are a viewer in this project: you can look, not paint.";
  if (canManage(role) || (work.status !== "submitted" && work.status !== "approved")) return null;
  const how = work.status === "submitted" ? "withdraw it to change it" : "a manager can send it back";
  return `${name} is ${STATUS_LABELS[work.status]}: its labels stay as reviewed (${how}).`;
}

/** Whether a live image.status event is this page's own move coming back: made by this person
 * and either already taken (the status it has) or still on its way (a move in flight, whose
 * event can arrive before its response). Such an event must not count as a second move. */
export function ownMoveEcho(event: { by: string; status: string }, me: string, status: string, movesInFlight: number): boolean {
  return event.by === me && (movesInFlight > 0 || event.status === status);
}

export class ReviewState {
  readonly badge = h("span", { class: "status-badge", "data-testid": "image-status" });
  readonly node: HTMLElement;
  /** The note that goes with "request changes": shown when R is pressed. */
  readonly form: HTMLElement;
  private readonly note = h("textarea", { rows: 3, placeholder: "What should change? (sent with the image)", "data-testid": "change-note" });
  private readonly buttons: Record<Move, HTMLButtonElement>;
  private readonly listeners = new Set<(work: ImageWork, move: string, by: string) => void>();
  private movesInFlight = 0;
  /** Run before any move: the page saves the strokes not sent yet, so what is reviewed is what was painted. */
  beforeMove: () => Promise<void> = async () => {};

  constructor(
    private readonly imageId: number,
    private readonly name: string,
    private readonly role: Role | null,
    private readonly me: string,
    private readonly message: Message,
    public work: ImageWork,
  ) {
    const button = (move: Move, label: string, testid: string): HTMLButtonElement =>
      h("button", { "data-testid": testid, onclick: () => void this.act(move) }, label);
    this.buttons = {
      submit: button("submit", "Submit for review (S)", "submit"),
      withdraw: button("withdraw", "Withdraw", "withdraw"),
      approve: button("approve", "Approve (V)", "approve"),
      request_changes: button("request_changes", "Request changes (R)", "request-changes"),
    };
    const send = h("button", { "data-testid": "send-back", onclick: () => void this.sendBack() }, "Send back");
    const cancel = h("button", { onclick: () => (this.form.hidden = true) }, "Cancel");
    this.form = h("div", { class: "change-form", hidden: true }, this.note, h("div", { class: "group" }, send, cancel));
    this.node = h("span", { class: "review-state" }, this.badge, ...Object.values(this.buttons));
    this.render();
  }

  /** Listen to every move of this image (this page's and others'). */
  onMove(listener: (work: ImageWork, move: string, by: string) => void): void {
    this.listeners.add(listener);
  }

  paintRefusal(): string | null {
    return paintRefusal(this.work, this.role, this.name);
  }

  /** A move asked for by a button or key; request changes first asks for its note. */
  async act(move: Move): Promise<void> {
    if (move === "request_changes" && !this.note.value.trim()) {
      this.form.hidden = false;
      this.note.focus();
      return;
    }
    if (move === "request_changes") return this.sendBack();
    await this.send(move, "");
  }

  async sendBack(): Promise<void> {
    if (await this.send("request_changes", this.note.value)) {
      this.note.value = "";
      this.form.hidden = true;
    }
  }

  /** Another page moved or (re)assigned this image (image.status, images.assigned): take its new state. */
  follow(socket: ProjectSocket, reload: () => Promise<ImageWork>): void {
    socket.on("images.assigned", async (event) => {
      if (!event.images.includes(this.imageId)) return;
      this.work = await reload();
      this.render();
    });
    socket.on("image.status", async (event) => {
      if (event.image !== this.imageId) return;
      if (ownMoveEcho(event, this.me, this.work.status, this.movesInFlight)) return;
      this.work = await reload();
      this.render();
      this.listeners.forEach((listener) => listener(this.work, event.move, event.by));
      // A first label starts the image: its labels.changed message already says who saved.
      if (event.by === this.me || event.move === "start") return;
      const note = event.note ? `: “${event.note}”` : ".";
      const what = event.status === "changes_requested" ? `Changes requested on ${event.name}` : `${event.name} is ${STATUS_LABELS[this.work.status]}`;
      this.message.info(`${what} by ${event.by}${note}`);
    });
  }

  private async send(move: Move, comment: string): Promise<boolean> {
    this.movesInFlight += 1;
    try {
      await this.beforeMove();
      this.work = await moveImage(this.imageId, move, comment);
      this.movesInFlight -= 1;
      this.render();
      this.message.info(`${this.name} is ${STATUS_LABELS[this.work.status]}.`);
      this.listeners.forEach((listener) => listener(this.work, move, this.me));
      return true;
    } catch (error) {
      this.movesInFlight -= 1;
      this.message.error(errorText(error));
      return false;
    }
  }

  private render(): void {
    const { status, assignee } = this.work;
    this.badge.className = `status-badge ${status}`;
    this.badge.dataset.status = status;
    this.badge.textContent = STATUS_LABELS[status] + (assignee ? ` · ${assignee}` : "");
    const manager = canManage(this.role);
    const mine = submitterOf(this.work) === this.me || assignee === this.me;
    this.buttons.submit.hidden = !canAnnotate(this.role) || status !== "in_progress";
    this.buttons.withdraw.hidden = status !== "submitted" || !(manager || (canAnnotate(this.role) && mine));
    this.buttons.approve.hidden = !manager || status !== "submitted";
    this.buttons.request_changes.hidden = !manager || (status !== "submitted" && status !== "approved");
  }
}
