import { describe, expect, it } from "vitest";
import type { ImageSummary } from "../api/images";
import type { ImageWork, StatusChange } from "../api/team";
import { shown } from "../pages/image-grid";
import { describeDetails } from "../pages/project-audit";
import { myQueue } from "../pages/project-team";
import { nextToReview } from "./review";
import { ownMoveEcho, paintRefusal, submitterOf } from "./workflow";

const change = (move: string, by: string): StatusChange => ({ move, previous: "todo", status: "in_progress", by, at: "", comment: null, note: "" });
const work = (status: ImageWork["status"], history: StatusChange[] = [], assignee: string | null = "ann"): ImageWork => ({ image: 1, status, assignee, approved_layers: [], history });

describe("who may paint an image in review", () => {
  it("lets annotators paint until it is submitted, managers always, viewers never", () => {
    expect(paintRefusal(work("in_progress"), "annotator", "f7")).toBeNull();
    expect(paintRefusal(work("submitted"), "annotator", "f7")).toBe("f7 is submitted: its labels stay as reviewed (withdraw it to change it).");
    expect(paintRefusal(work("approved"), "annotator", "f7")).toBe("f7 is approved: its labels stay as reviewed (a manager can send it back).");
    expect(paintRefusal(work("approved"), "manager", "f7")).toBeNull();
    expect(paintRefusal(work("todo"), "viewer", "f7")).toBe("You are a viewer in this project: you can look, not paint.");
  });

  it("takes the author under review from the last submission, else the assignee", () => {
    expect(submitterOf(work("submitted", [change("submit", "bob"), change("withdraw", "bob"), change("submit", "eve")]))).toBe("eve");
    expect(submitterOf(work("in_progress", [change("start", "bob")]))).toBe("ann");
    expect(submitterOf(work("todo", [], null))).toBeNull();
  });
});

describe("a move's live event", () => {
  it("is this page's own echo while the move is in flight and once its status is taken, never someone else's", () => {
    const approved = { by: "mia", status: "approved" };
    expect(ownMoveEcho(approved, "mia", "submitted", 1)).toBe(true); // the event came before the response
    expect(ownMoveEcho(approved, "mia", "approved", 0)).toBe(true); // after it
    expect(ownMoveEcho(approved, "mia", "submitted", 0)).toBe(false); // the same person on another page
    expect(ownMoveEcho(approved, "bob", "submitted", 1)).toBe(false);
  });
});

describe("review mode", () => {
  it("goes on to the next submitted image, round the queue, and stops when none is left", () => {
    const queue = [{ image: 4 }, { image: 9 }, { image: 2 }];
    expect(nextToReview(queue, 9)).toBe(2);
    expect(nextToReview(queue, 2)).toBe(4);
    expect(nextToReview(queue, 7)).toBe(4); // already decided: no longer in the queue
    expect(nextToReview([{ image: 7 }], 7)).toBeNull();
  });
});

const image = (name: string, status: ImageSummary["status"], assignee: string | null, kinds: string[] = []): ImageSummary =>
  ({ id: name.length, name, status, assignee, label_kinds: kinds, predicted: false }) as ImageSummary;

describe("the project page's team parts", () => {
  it("lists my open images, sent-back ones first, then under way, then to do", () => {
    const images = [image("a", "todo", "me"), image("b", "changes_requested", "me"), image("c", "in_progress", "me"), image("d", "submitted", "me"), image("e", "todo", "you")];
    expect(myQueue(images, "me").map((i) => i.name)).toEqual(["b", "c", "a"]);
  });

  it("filters the grid by label state, review status and My images", () => {
    const mine = image("a", "submitted", "me", ["scribble"]);
    expect(shown(mine, { labels: "scribbled", status: "submitted", mine: true }, "me")).toBe(true);
    expect(shown(mine, { labels: "all", status: "approved", mine: false }, "me")).toBe(false);
    expect(shown(mine, { labels: "all", status: "any", mine: true }, "you")).toBe(false);
  });

  it("says what an audit entry changed", () => {
    expect(describeDetails({ role: { from: "viewer", to: "annotator" } })).toBe("role: viewer → annotator");
    expect(describeDetails({ index: 3, color: "#00ff00" })).toBe("index: 3, color: #00ff00");
  });
});
