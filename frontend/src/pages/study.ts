// "How many labels do I need?": the label-efficiency study page (training/features/study.py). Start a
// study (the sizes it will train are shown first), then watch pixel F1 against the number of
// labelled images grow point by point over the socket, with what the last doubling added.
import type { RunProgressEvent, StudyPointEvent, StudyStateEvent } from "../api/events.gen";
import { getProject } from "../api/projects";
import { cancelStudy, createStudy, getStudy, listStudies, planStudy, type Study } from "../api/study";
import { ProjectSocket } from "../live";
import { trainingHref } from "../routes";
import { warmupSteps } from "./run-config";
import { canManage, crumbs, errorText, h, messageLine, labelSources, networkFields, numberField, type Stop } from "../ui";
import {
  curvePath,
  f1Domain,
  f1Ticks,
  gainText,
  lastGain,
  linearScale,
  log2Scale,
  mergePoint,
  scored,
} from "./study-chart";

const FINISHED = ["succeeded", "failed", "cancelled"];
const GREETING_WAIT_MS = 5000;

/** A study's live events: its points and its state. */
type StudyEvent = StudyPointEvent | StudyStateEvent;

export async function showStudy(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, studies] = await Promise.all([getProject(projectId), listStudies(projectId)]);
  const socket = new ProjectSocket(projectId);
  // The socket first, then the study: what happens after the socket is open arrives as events.
  const greeted = new Promise<void>((resolve) => {
    socket.on("hello", () => resolve());
    setTimeout(resolve, GREETING_WAIT_MS);
  });
  const message = messageLine();
  const studyList = h("table", { class: "runs", "data-testid": "studies" });
  const followed = h("section", { class: "followed", "data-testid": "followed-study" });
  const byId = new Map(studies.map((study) => [study.id, study]));
  let view: StudyView | null = null;

  function renderStudies(): void {
    studyList.replaceChildren(
      h("tr", {}, ...["study", "state", "sizes", "by", "started"].map((t) => h("th", {}, t))),
      ...[...byId.values()]
        .sort((a, b) => b.id - a.id)
        .map((study) =>
          h(
            "tr",
            { "data-study": study.id, class: view?.study.id === study.id ? "selected" : "" },
            h("td", {}, h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), void follow(study.id)) }, `#${study.id}`)),
            h("td", { class: `state ${study.state}` }, study.state),
            h("td", {}, study.sizes.join(", ")),
            h("td", {}, study.created_by),
            h("td", {}, new Date(study.created_at).toLocaleString()),
          ),
        ),
    );
  }

  async function follow(studyId: number): Promise<void> {
    view = new StudyView(studyId, projectId, canManage(project.role));
    followed.replaceChildren(view.node);
    await view.load();
    renderStudies();
  }

  socket.on("hello", () => void view?.load()); // again after a reconnect: what the drop missed
  socket.on("study.point", (event) => view?.receive(event));
  socket.on("study.state", async (event) => {
    view?.receive(event);
    const known = byId.get(event.study);
    if (known) known.state = event.state;
    else byId.set(event.study, await getStudy(event.study)); // started elsewhere
    renderStudies();
  });
  socket.on("run.progress", (event) => view?.progress(event));

  const form = canManage(project.role)
    ? studyForm(projectId, message, (study) => {
        byId.set(study.id, study);
        void follow(study.id);
      })
    : h("p", { class: "muted" }, "Managers and owners start studies; you can follow them here.");
  renderStudies();
  root.replaceChildren(
    crumbs(projectId, project.name, h("a", { href: trainingHref(projectId) }, "Training"), " / ", h("strong", {}, "How many labels do I need?")),
    h(
      "p",
      { class: "muted" },
      "A study trains the same run on the first 1, 2, 4, 8, … labelled images (by image name) up to all of them, " +
        "scores each model on the validation images, and plots pixel F1 against the number of images as each point finishes.",
    ),
    h("div", { class: "training-layout" }, h("section", {}, h("h2", {}, "Start a study"), form, message.node), followed),
    h("section", {}, h("h2", {}, "Studies"), studyList),
  );
  await greeted;
  const latest = [...byId.values()].sort((a, b) => b.id - a.id)[0];
  if (latest && !view) await follow(latest.id);
  return () => socket.close();
}

function studyForm(projectId: number, message: ReturnType<typeof messageLine>, started: (study: Study) => void): HTMLElement {
  const sources = labelSources();
  const network = networkFields();
  const steps = numberField("steps", 1000, 1, 200000);
  const plan = h("p", { class: "study-plan", "data-testid": "study-plan" }, "…");
  const submit = h("button", { type: "submit" }, "Start study");

  async function showPlan(): Promise<void> {
    try {
      const answer = await planStudy(projectId, sources.chosen());
      plan.textContent =
        `Trains ${answer.sizes.length} runs, on ${answer.sizes.join(", ")} images ` +
        `(${answer.train_images} labelled training images; scored on ${answer.validation_images} validation image(s)).`;
      plan.dataset.sizes = answer.sizes.join(",");
      plan.classList.remove("error");
      submit.disabled = false;
    } catch (error) {
      plan.textContent = errorText(error);
      delete plan.dataset.sizes;
      plan.classList.add("error");
      submit.disabled = true;
    }
  }
  sources.boxes.forEach((box) => box.addEventListener("change", () => void showPlan()));

  const form = h(
    "form",
    { class: "run-form", "data-testid": "study-form" },
    sources.node,
    plan,
    ...network.model,
    h("label", {}, "Steps per point ", steps),
    ...network.batches,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const total = Number(steps.value);
    const { architecture, encoder, stepsPerEpoch, patchSize, batchSize } = network.read();
    const config = {
      label_sources: sources.chosen(),
      architecture,
      encoder,
      steps: total,
      warmup_steps: warmupSteps(total),
      steps_per_epoch: Math.min(total, stepsPerEpoch),
      patch_size: patchSize,
      batch_size: batchSize,
      preview_images: 0, // the study shows scores, not previews
    };
    try {
      const study = await createStudy(projectId, config);
      message.info(`Study #${study.id} is queued: ${study.sizes.length} runs.`);
      started(study);
    } catch (error) {
      message.error(errorText(error));
    }
  });
  void showPlan();
  return form;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 560;
const HEIGHT = 300;
const MARGIN = { left: 52, right: 20, top: 16, bottom: 44 };

function svg(tag: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * One study followed live. Socket events that arrive before the study has loaded are kept and
 * applied after it; `mergePoint` never moves a point back, so a late event cannot undo a newer
 * state the API gave.
 */
class StudyView {
  readonly node: HTMLElement;
  study: Study = { id: 0, created_by: "", config: {}, sizes: [], state: "queued", created_at: "", points: [] };
  private loaded = false;
  private buffered: StudyEvent[] = [];
  private readonly steps = new Map<number, string>(); // run id -> "step/steps" while it trains
  private readonly title = h("h2", {});
  private readonly state = h("p", { class: "run-status", "data-testid": "study-state" });
  private readonly chart = svg("svg", { width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "study-chart", "data-testid": "study-chart" });
  private readonly gain = h("p", { class: "study-gain", "data-testid": "study-gain" });
  private readonly table = h("table", { class: "runs", "data-testid": "study-points" });
  private readonly cancelButton = h("button", { class: "danger", type: "button", onclick: () => void this.cancel() }, "Cancel study");

  constructor(
    readonly id: number,
    private readonly projectId: number,
    private readonly mayManage: boolean,
  ) {
    this.study.id = id;
    this.cancelButton.hidden = true;
    this.node = h("div", {}, h("div", { class: "study-head" }, this.title, this.cancelButton), this.state, this.chart, this.gain, this.table);
  }

  async load(): Promise<void> {
    const fresh = await getStudy(this.id);
    if (this.loaded) {
      // A reload (after a reconnect): keep what events already moved forward.
      fresh.points = fresh.points.reduce((points, point) => mergePoint(points, point), this.study.points);
      if (FINISHED.includes(this.study.state)) fresh.state = this.study.state;
    }
    this.study = fresh;
    this.loaded = true;
    for (const event of this.buffered) this.receive(event);
    this.buffered = [];
    this.render();
  }

  receive(event: StudyEvent): void {
    if (event.study !== this.id) return;
    if (!this.loaded) {
      this.buffered.push(event);
      return;
    }
    if (event.type === "study.state") this.study.state = event.state;
    if (event.type === "study.point") {
      const { size, run, state, model_version, pixel_f1, train_images } = event;
      this.study.points = mergePoint(this.study.points, { size, run, state, model_version, pixel_f1, train_images });
      if (FINISHED.includes(state)) this.steps.delete(run);
    }
    this.render();
  }

  progress(event: RunProgressEvent): void {
    const run = event.run;
    if (!this.study.points.some((p) => p.run === run && p.state === "running")) return;
    this.steps.set(run, `step ${event.step}/${event.steps}`);
    this.renderTable();
  }

  private render(): void {
    const done = scored(this.study.points);
    this.title.textContent = `Study #${this.study.id}`;
    this.state.textContent = `state: ${this.study.state} · ${done.length} of ${this.study.sizes.length} points scored`;
    this.state.dataset.state = this.study.state;
    this.cancelButton.hidden = !this.mayManage || FINISHED.includes(this.study.state);
    this.gain.textContent = gainText(lastGain(this.study.points));
    this.drawChart();
    this.renderTable();
  }

  private drawChart(): void {
    const sizes = this.study.sizes.length ? this.study.sizes : [1];
    const x = log2Scale(sizes, MARGIN.left, WIDTH - MARGIN.right);
    const domain = f1Domain(this.study.points);
    const y = linearScale(domain, [HEIGHT - MARGIN.bottom, MARGIN.top]);
    const bottom = HEIGHT - MARGIN.bottom;
    const nodes: SVGElement[] = [];
    for (const tick of f1Ticks(domain)) {
      nodes.push(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick), class: "grid" }));
      nodes.push(svg("text", { x: MARGIN.left - 6, y: y(tick) + 4, "text-anchor": "end" }, tick.toFixed(1)));
    }
    for (const size of sizes) {
      nodes.push(svg("line", { x1: x(size), x2: x(size), y1: bottom, y2: bottom + 5, class: "axis" }));
      nodes.push(svg("text", { x: x(size), y: bottom + 18, "text-anchor": "middle" }, String(size)));
    }
    nodes.push(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: bottom, y2: bottom, class: "axis" }));
    nodes.push(svg("text", { x: (MARGIN.left + WIDTH - MARGIN.right) / 2, y: HEIGHT - 6, "text-anchor": "middle" }, "labelled training images (log₂ scale)"));
    nodes.push(svg("text", { x: 12, y: MARGIN.top + 6, transform: `rotate(-90 12 ${MARGIN.top + 6})`, "text-anchor": "end" }, "validation pixel F1"));
    nodes.push(svg("path", { d: curvePath(this.study.points, x, y), class: "curve" }));
    for (const point of this.study.points) {
      if (point.pixel_f1 !== null) {
        const dot = svg("circle", { cx: x(point.size), cy: y(point.pixel_f1), r: 5, class: "point", "data-size": point.size, "data-f1": point.pixel_f1 });
        dot.append(svg("title", {}, `${point.size} image(s): pixel F1 ${point.pixel_f1.toFixed(3)}`));
        nodes.push(dot);
      } else {
        // Not scored (yet): a marker on the axis in the run's state.
        nodes.push(svg("circle", { cx: x(point.size), cy: bottom, r: 4, class: `pending ${point.state}`, "data-size": point.size }));
      }
    }
    this.chart.replaceChildren(...nodes);
    this.chart.dataset.points = String(scored(this.study.points).length);
  }

  private renderTable(): void {
    this.table.replaceChildren(
      h("tr", {}, ...["images", "run", "state", "pixel F1", "trained on"].map((t) => h("th", {}, t))),
      ...this.study.points.map((point) =>
        h(
          "tr",
          { "data-size": point.size },
          h("td", {}, String(point.size)),
          h("td", {}, h("a", { href: trainingHref(this.projectId) }, `#${point.run}`)),
          h("td", { class: `state ${point.state}` }, point.state === "running" ? `running ${this.steps.get(point.run) ?? ""}` : point.state),
          h("td", {}, point.pixel_f1 === null ? "–" : point.pixel_f1.toFixed(3)),
          h("td", {}, point.train_images === null ? "" : `${point.train_images} image(s)`),
        ),
      ),
    );
  }

  private async cancel(): Promise<void> {
    try {
      const study = await cancelStudy(this.id);
      this.study.state = study.state;
      for (const point of study.points) this.study.points = mergePoint(this.study.points, point);
      this.render();
    } catch (error) {
      this.state.textContent = `Could not cancel: ${errorText(error)}`;
    }
  }
}
