import { describe, expect, it } from "vitest";
import type { Tally } from "../api/team";
import { duration, stackedBars } from "./progress-chart";

const tally = (statuses: Partial<Tally["statuses"]>): Tally => ({
  assigned: 0,
  statuses: { todo: 0, in_progress: 0, submitted: 0, changes_requested: 0, approved: 0, ...statuses },
  pixels: {},
  active_seconds: 0,
});

describe("stackedBars", () => {
  it("splits each bar by status in workflow order, scaled to the largest bar", () => {
    const bars = stackedBars(
      [
        { label: "alice", tally: tally({ todo: 1, approved: 3 }) },
        { label: "bob", tally: tally({ in_progress: 2 }) },
      ],
      400,
    );
    expect(bars[0]).toEqual({
      label: "alice",
      total: 4,
      segments: [
        { status: "todo", count: 1, x: 0, width: 100 },
        { status: "approved", count: 3, x: 100, width: 300 },
      ],
    });
    expect(bars[1].segments).toEqual([{ status: "in_progress", count: 2, x: 0, width: 200 }]);
  });

  it("draws nothing for someone with no images, and does not divide by zero", () => {
    expect(stackedBars([{ label: "carol", tally: tally({}) }], 400)).toEqual([{ label: "carol", total: 0, segments: [] }]);
  });
});

describe("duration", () => {
  it("says seconds, minutes, then hours and minutes", () => {
    expect([duration(0), duration(45.4), duration(150), duration(3599), duration(7500)]).toEqual(["0 s", "45 s", "3 min", "1 h 00 min", "2 h 05 min"]);
  });
});
