import { describe, expect, it } from "vitest";
import type { Invitation } from "../api/projects";
import { expiresIn, offerText } from "./invitations";

const NOW = new Date("2026-03-01T12:00:00Z");
const at = (hours: number): string => new Date(NOW.getTime() + hours * 3600_000).toISOString();

describe("expiresIn", () => {
  it("counts whole days, then hours, then says the last hour", () => {
    expect(expiresIn(at(14 * 24), NOW)).toBe("expires in 14 days");
    expect(expiresIn(at(48), NOW)).toBe("expires in 2 days");
    expect(expiresIn(at(47.5), NOW)).toBe("expires in 47 hours");
    expect(expiresIn(at(0.5), NOW)).toBe("expires within the hour");
  });

  it("says an invitation past its time has expired", () => {
    expect(expiresIn(at(0), NOW)).toBe("has expired");
    expect(expiresIn(at(-3), NOW)).toBe("has expired");
    expect(expiresIn("not a date", NOW)).toBe("has expired");
  });
});

describe("offerText", () => {
  const invitation: Invitation = {
    id: 1,
    project: 7,
    project_name: "Nuclei",
    username: "ana",
    role: "annotator",
    invited_by: "olga",
    created_at: at(-1),
    expires_at: at(72),
  };

  it("names the project, the role, who invited and when it lapses", () => {
    expect(offerText(invitation, NOW)).toBe("Nuclei: join as annotator from olga (expires in 3 days)");
  });

  it("leaves out an inviter whose account is gone", () => {
    expect(offerText({ ...invitation, invited_by: null }, NOW)).toBe("Nuclei: join as annotator (expires in 3 days)");
  });
});
