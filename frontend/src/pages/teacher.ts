// The fluorescence teacher page: tune the classical nucleus pipeline on one image with a live
// preview, apply it to every image (progress over the socket), exclude images, and start a
// brightfield-only run on the pseudo-masks (training/teacher.py, README "Fluorescence teacher").
import { getJSON, getProject, postJSON, type Run } from "../api";
import { ProjectSocket } from "../live";
import { canAnnotate, canManage, crumbs, errorText, h, messageLine, type Stop } from "../ui";

const SOURCE = "fluorescence-teacher";
const PREVIEW_DELAY_MS = 300;

export type ParamValue = number | string | boolean;
export type Params = Record<string, ParamValue>;

interface TeacherImage {
  id: number;
  name: string;
  width: number;
  height: number;
  channels: string[];
  state: "none" | "teacher" | "kept" | "excluded";
}

type Outcome = "made" | "unchanged" | "kept" | "excluded" | "missing";

/** The project's last "apply to all" job, as the server keeps it (training/teacher.py latest_job). */
export interface TeacherJobState {
  job: string;
  state: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  done: number;
  total: number;
  summary: Partial<Record<Outcome, number[]>>;
  error: string;
  idle_seconds: number;
}

interface Overview {
  source: string;
  channel: string;
  defaults: Params;
  job: TeacherJobState | null;
  images: TeacherImage[];
}

/** A job that has not moved for this long is waiting for a worker (a dead one's job is redelivered). */
export const STALLED_SECONDS = 60;

interface PreviewAnswer {
  objects: number;
  overlay: string;
  params: Params;
}

/** One knob of the pipeline: how the page shows it. */
export interface ParamSpec {
  name: string;
  label: string;
  kind: "range" | "number" | "select" | "checkbox";
  min?: number;
  max?: number;
  step?: number;
  options?: string[];
}

export const PARAM_SPECS: ParamSpec[] = [
  { name: "sigma", label: "Smoothing σ (px)", kind: "range", min: 0, max: 10, step: 0.5 },
  { name: "threshold", label: "Threshold", kind: "select", options: ["local", "otsu"] },
  { name: "block_size", label: "Local block (px, odd)", kind: "range", min: 3, max: 301, step: 2 },
  { name: "offset", label: "Local offset (noise σ)", kind: "range", min: -10, max: 30, step: 0.5 },
  { name: "min_contrast", label: "Min contrast (noise σ)", kind: "range", min: 0, max: 50, step: 0.5 },
  { name: "peak_fraction", label: "Peak fraction (0 off)", kind: "range", min: 0, max: 0.95, step: 0.05 },
  { name: "fill_holes", label: "Fill holes", kind: "checkbox" },
  { name: "min_area", label: "Min area (px)", kind: "number", min: 1, max: 100000, step: 1 },
  { name: "max_area", label: "Max area (px, 0 = none)", kind: "number", min: 0, max: 10000000, step: 1 },
  { name: "split", label: "Split touching nuclei", kind: "checkbox" },
  { name: "min_distance", label: "Min seed distance (px)", kind: "range", min: 1, max: 50, step: 1 },
];

/** The value an input holds, in the type the server expects for that knob. */
export function readInput(spec: ParamSpec, input: HTMLInputElement | HTMLSelectElement): ParamValue {
  if (spec.kind === "checkbox") return (input as HTMLInputElement).checked;
  if (spec.kind === "select") return input.value;
  return Number(input.value);
}

/** The line under the progress bar once a job has finished. */
export function finishedText(summary: Partial<Record<Outcome, number[]>>): string {
  const count = (outcome: Outcome) => (summary[outcome] ?? []).length;
  return `done: ${count("made")} made, ${count("unchanged")} unchanged, ${count("kept")} kept (edited by a person), ${count("excluded")} excluded`;
}

/** The line under the progress bar for a job the page finds when it opens (or reopens). */
export function jobText(job: TeacherJobState): string {
  if (job.state === "succeeded") return finishedText(job.summary);
  if (job.state === "failed") return `failed: ${job.error}`;
  if (job.state === "cancelled") return "cancelled";
  const where = job.state === "queued" ? `queued: ${job.total} image(s)` : `${job.done} / ${job.total} images`;
  if (job.idle_seconds < STALLED_SECONDS) return where;
  return `${where}; no progress for ${Math.round(job.idle_seconds)} s: waiting for a worker (it carries on where it stopped)`;
}

/** Calls `run` once, `delayMs` after the last of a burst of calls. */
export function debounce(run: () => void, delayMs: number): { call(): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return {
    call() {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        run();
      }, delayMs);
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

export async function showTeacher(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, overview] = await Promise.all([
    getProject(projectId),
    getJSON<Overview>(`/api/projects/${projectId}/fluorescence-teacher/`),
  ]);
  const socket = new ProjectSocket(projectId);
  const message = messageLine();
  const stained = overview.images.filter((image) => image.channels.length > 1);
  if (!stained.length) {
    root.replaceChildren(
      crumbs(projectId, project.name, h("strong", {}, "Fluorescence teacher")),
      h("p", {}, "No image of this project has more than one channel: upload brightfield + fluorescence pairs first."),
    );
    return () => socket.close();
  }
  const mayAnnotate = canAnnotate(project.role);
  const imageSelect = h("select", { name: "image", "data-testid": "teacher-image" }, ...stained.map((i) => h("option", { value: i.id }, i.name)));
  const channelSelect = h("select", { name: "channel", "data-testid": "teacher-channel" });
  const showSelect = h("select", { name: "show", "data-testid": "teacher-show" }); // the image under the overlay
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const count = h("strong", { "data-testid": "teacher-count" }, "…");
  const base = h("img", { class: "teacher-base", alt: "image" });
  const overlay = h("img", { class: "teacher-overlay", alt: "nuclei found", "data-testid": "teacher-overlay" });
  const progress = h("progress", { max: 1, value: 0, "data-testid": "teacher-progress" });
  const progressText = h("span", { "data-testid": "teacher-progress-text" });
  const stateTable = h("table", { class: "teacher-images", "data-testid": "teacher-images" });
  let latest = 0; // the newest preview asked for; older answers are dropped
  let job: string | null = null; // the job whose events move the bar
  if (overview.job) {
    if (overview.job.state === "queued" || overview.job.state === "running") job = overview.job.job;
    progress.max = Math.max(1, overview.job.total);
    progress.value = overview.job.state === "succeeded" ? overview.job.total : overview.job.done;
    progressText.textContent = jobText(overview.job);
  }

  const imageById = (id: number): TeacherImage => overview.images.find((i) => i.id === id) as TeacherImage;
  const current = (): TeacherImage => imageById(Number(imageSelect.value));
  const params = (): Params => Object.fromEntries(PARAM_SPECS.map((spec) => [spec.name, readInput(spec, inputs.get(spec.name)!)]));
  const settings = () => ({ channel: channelSelect.value, params: params() });

  function fillChannels(): void {
    const image = current();
    const wanted = image.channels.includes(channelSelect.value) ? channelSelect.value : overview.channel;
    channelSelect.replaceChildren(...image.channels.map((name) => h("option", { value: name }, name)));
    channelSelect.value = image.channels.includes(wanted) ? wanted : image.channels[image.channels.length - 1];
    const shown = image.channels.includes(showSelect.value) ? showSelect.value : channelSelect.value;
    showSelect.replaceChildren(...image.channels.map((name) => h("option", { value: name }, name)));
    showSelect.value = shown;
    showBase();
  }

  function showBase(): void {
    base.src = `/api/images/${current().id}/channels/${encodeURIComponent(showSelect.value)}/display.png`;
  }

  async function preview(): Promise<void> {
    const ask = ++latest;
    count.textContent = "…";
    try {
      const answer = await postJSON<PreviewAnswer>(`/api/images/${current().id}/fluorescence-teacher/preview/`, settings());
      if (ask !== latest) return;
      overlay.src = answer.overlay;
      count.textContent = `${answer.objects}`;
      message.clear();
    } catch (error) {
      if (ask === latest) message.error(errorText(error));
    }
  }
  const later = debounce(() => void preview(), PREVIEW_DELAY_MS);

  function renderStates(): void {
    stateTable.replaceChildren(
      h("tr", {}, ...["image", "channels", "pseudo-mask", ""].map((t) => h("th", {}, t))),
      ...overview.images.map((image) =>
        h(
          "tr",
          { "data-image": image.id },
          h("td", {}, h("a", { href: `#/projects/${projectId}/images/${image.id}` }, image.name)),
          h("td", {}, image.channels.join(", ")),
          h("td", { class: `teacher-state ${image.state}` }, image.state),
          h("td", {}, mayAnnotate ? excludeButton(image) : ""),
        ),
      ),
    );
  }

  function excludeButton(image: TeacherImage): HTMLElement | string {
    if (image.channels.length < 2) return "";
    const excluded = image.state === "excluded";
    return h(
      "button",
      {
        type: "button",
        onclick: async () => {
          try {
            const path = excluded ? "include" : "exclude";
            const answer = await postJSON<{ state: TeacherImage["state"] }>(`/api/images/${image.id}/fluorescence-teacher/${path}/`, settings());
            image.state = answer.state;
            renderStates();
          } catch (error) {
            message.error(errorText(error));
          }
        },
      },
      excluded ? "Include" : "Exclude",
    );
  }

  async function applyToAll(): Promise<void> {
    try {
      const answer = await postJSON<{ job: string; total: number }>(`/api/projects/${projectId}/fluorescence-teacher/apply/`, settings());
      job = answer.job;
      progress.max = Math.max(1, answer.total);
      progress.value = 0;
      progressText.textContent = `queued: ${answer.total} image(s)`;
    } catch (error) {
      message.error(errorText(error));
    }
  }

  async function trainBrightfield(): Promise<void> {
    const config = { channels: ["brightfield"], label_sources: ["derived"], derived_sources: [SOURCE] };
    try {
      await postJSON<Run>(`/api/projects/${projectId}/runs/`, { config });
      location.hash = `#/projects/${projectId}/training`;
    } catch (error) {
      message.error(errorText(error));
    }
  }

  socket.on("teacher.progress", (event) => {
    if (event.job !== job) return;
    progress.max = Number(event.total);
    progress.value = Number(event.done);
    progressText.textContent = `${event.done} / ${event.total} images`;
  });
  socket.on("teacher.finished", async (event) => {
    if (event.job !== job) return;
    progressText.textContent = finishedText(event as Partial<Record<Outcome, number[]>>);
    const fresh = await getJSON<Overview>(`/api/projects/${projectId}/fluorescence-teacher/`);
    overview.images.splice(0, overview.images.length, ...fresh.images);
    renderStates();
  });
  socket.on("teacher.failed", (event) => {
    if (event.job === job) message.error(`The teacher failed: ${String(event.error)}`);
  });

  const knobs = PARAM_SPECS.map((spec) => {
    const value = overview.defaults[spec.name];
    const input =
      spec.kind === "select"
        ? h("select", { name: spec.name }, ...(spec.options ?? []).map((o) => h("option", { value: o }, o)))
        : h("input", { name: spec.name, type: spec.kind, min: spec.min, max: spec.max, step: spec.step });
    if (spec.kind === "checkbox") (input as HTMLInputElement).checked = Boolean(value);
    else input.value = String(value);
    const shown = h("output", {}, spec.kind === "range" ? String(value) : "");
    input.addEventListener("input", () => {
      if (spec.kind === "range") shown.textContent = input.value;
      later.call();
    });
    input.addEventListener("change", () => later.call());
    inputs.set(spec.name, input);
    return h("label", { class: "teacher-knob" }, `${spec.label} `, input, shown);
  });
  imageSelect.addEventListener("change", () => {
    fillChannels();
    later.call();
  });
  channelSelect.addEventListener("change", () => later.call());
  showSelect.addEventListener("change", showBase);

  fillChannels();
  renderStates();
  const actions = mayAnnotate
    ? h(
        "div",
        { class: "teacher-actions" },
        h("button", { type: "button", "data-testid": "teacher-apply", onclick: () => void applyToAll() }, "Apply to all images"),
        progress,
        progressText,
        canManage(project.role)
          ? h("button", { type: "button", "data-testid": "teacher-train", onclick: () => void trainBrightfield() }, "Train a brightfield model on these")
          : h("a", { href: `#/projects/${projectId}/training` }, "Training →"),
      )
    : h("p", { class: "muted" }, "Annotators, managers and owners tune and apply the teacher.");
  root.replaceChildren(
    crumbs(projectId, project.name, h("strong", {}, "Fluorescence teacher")),
    h(
      "div",
      { class: "teacher-layout" },
      h(
        "section",
        { class: "teacher-controls" },
        h("label", {}, "Image ", imageSelect),
        h("label", {}, "Stain channel ", channelSelect),
        h("label", {}, "Show under the nuclei ", showSelect),
        ...knobs,
        h("p", {}, "Nuclei found: ", count),
        message.node,
      ),
      h("section", { class: "teacher-preview" }, h("div", { class: "teacher-stack" }, base, overlay)),
    ),
    actions,
    h("section", {}, h("h2", {}, "Images"), stateTable),
  );
  if (mayAnnotate) void preview();
  return () => {
    later.cancel();
    socket.close();
  };
}
