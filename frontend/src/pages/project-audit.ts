// Who changed the project's members and settings, and when (owners only: GET …/audit/).
import { listAudit, type AuditEntry } from "../api/team";
import { errorText, h } from "../ui";

/** "role: viewer → annotator", "name: nucleus → nuclei", "role: annotator". */
export function describeDetails(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([field, value]) => {
      if (value && typeof value === "object" && "from" in value && "to" in value) {
        const change = value as { from: unknown; to: unknown };
        return `${field}: ${String(change.from)} → ${String(change.to)}`;
      }
      return `${field}: ${String(value)}`;
    })
    .join(", ");
}

function row(entry: AuditEntry): HTMLElement {
  return h(
    "tr",
    {},
    h("td", {}, new Date(entry.at).toLocaleString()),
    h("td", {}, entry.actor ?? "server"),
    h("td", {}, entry.what),
    h("td", {}, entry.subject),
    h("td", { class: "muted" }, describeDetails(entry.details)),
  );
}

export function auditSection(projectId: number): HTMLElement {
  const body = h("tbody", {});
  const table = h("table", { class: "audit", "data-testid": "audit" }, h("thead", {}, h("tr", {}, ...["when", "who", "what", "of", "details"].map((name) => h("th", {}, name)))), body);
  void listAudit(projectId)
    .then((entries) => body.replaceChildren(...entries.map(row)))
    .catch((error) => body.replaceChildren(h("tr", {}, h("td", { class: "error" }, errorText(error)))));
  return h("section", {}, h("h2", {}, "Changes to members and settings"), table);
}
