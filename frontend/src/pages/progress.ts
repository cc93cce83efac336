// The progress page: per member and for the project, images assigned and where they stand in
// review (a stacked bar each), labelled pixels per class and time active; the same report as JSON
// and CSV from the API. Redrawn as the team works (review moves, assignments, saved labels).
import { getProject } from "../api/projects";
import { getProgress, progressCsvUrl, progressJsonUrl, STATUS_LABELS, STATUSES, type Progress, type Tally } from "../api/team";
import { ProjectSocket } from "../live";
import { crumbs, errorText, h, type Stop } from "../ui";
import { duration, stackedBars, type Bar } from "./progress-chart";

const SVG_NS = "http://www.w3.org/2000/svg";
const LABEL_WIDTH = 110;
const BAR_WIDTH = 420;
const ROW = 26;
/** Redraw at most this often while events come in. */
const REFRESH_MS = 1500;

function svg(tag: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(bars: Bar[]): SVGElement {
  const height = bars.length * ROW + 30;
  const root = svg("svg", { class: "progress-chart", "data-testid": "progress-chart", width: LABEL_WIDTH + BAR_WIDTH + 60, height });
  bars.forEach((bar, k) => {
    const y = k * ROW + 4;
    root.append(svg("text", { x: 0, y: y + 15 }, bar.label), svg("text", { x: LABEL_WIDTH + BAR_WIDTH + 8, y: y + 15 }, String(bar.total)));
    for (const segment of bar.segments) {
      const rect = svg("rect", { x: LABEL_WIDTH + segment.x, y, width: segment.width, height: ROW - 8, class: `segment ${segment.status}` });
      rect.append(svg("title", {}, `${bar.label}: ${segment.count} ${STATUS_LABELS[segment.status]}`));
      root.append(rect);
    }
  });
  STATUSES.forEach((status, k) => {
    const x = LABEL_WIDTH + k * 95;
    root.append(svg("rect", { x, y: height - 16, width: 10, height: 10, class: `segment ${status}` }), svg("text", { x: x + 14, y: height - 7 }, STATUS_LABELS[status]));
  });
  return root;
}

function table(report: Progress): HTMLElement {
  const head = ["member", "role", "assigned", ...STATUSES.map((s) => STATUS_LABELS[s]), "time active", ...report.classes.map((c) => `${c} px`)];
  const row = (name: string, role: string, tally: Tally): HTMLElement =>
    h(
      "tr",
      { "data-member": name },
      h("td", {}, name),
      h("td", {}, role),
      h("td", {}, String(tally.assigned)),
      ...STATUSES.map((s) => h("td", {}, String(tally.statuses[s]))),
      h("td", {}, duration(tally.active_seconds)),
      ...report.classes.map((c) => h("td", {}, (tally.pixels[c] ?? 0).toLocaleString())),
    );
  return h(
    "table",
    { class: "runs progress-table", "data-testid": "progress-table" },
    h("thead", {}, h("tr", {}, ...head.map((name) => h("th", {}, name)))),
    h("tbody", {}, ...report.members.map((m) => row(m.user, m.role, m.tally)), row("whole project", "", report.project)),
  );
}

export async function showProgress(root: HTMLElement, projectId: number): Promise<Stop> {
  const project = await getProject(projectId);
  const body = h("div", {}, h("p", {}, "Loading…"));
  const note = h("p", { class: "muted" });
  root.replaceChildren(
    crumbs(projectId, project.name, h("strong", {}, "Progress"), h("a", { class: "button", href: progressJsonUrl(projectId) }, "JSON"), h("a", { class: "button", href: progressCsvUrl(projectId) }, "CSV")),
    body,
    note,
  );
  async function draw(): Promise<void> {
    try {
      const report = await getProgress(projectId);
      const rows = [...report.members.map((m) => ({ label: m.user, tally: m.tally })), { label: "project", tally: report.project }];
      body.replaceChildren(chart(stackedBars(rows, BAR_WIDTH)), table(report));
      const unassigned = report.images - report.project.assigned;
      note.textContent = `${report.images} images, ${unassigned} unassigned; labelled pixels counted on ${report.counted_images} labelled images. A member's numbers are those of the images assigned to them; time active adds up the gaps between their saves, breaks left out.`;
    } catch (error) {
      body.replaceChildren(h("p", { class: "error" }, errorText(error)));
    }
  }
  const socket = new ProjectSocket(projectId);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const later = (): void => {
    if (timer === undefined) timer = setTimeout(() => ((timer = undefined), void draw()), REFRESH_MS);
  };
  for (const type of ["image.status", "images.assigned", "labels.changed"] as const) socket.on(type, later);
  await draw();
  return () => {
    clearTimeout(timer);
    socket.close();
  };
}
