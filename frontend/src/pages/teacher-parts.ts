// The pieces of the fluorescence teacher page (pages/teacher.ts wires them): the knobs, the
// image and channel pickers with the live preview, the table of images and the "apply to all" job.
import { channelDisplayUrl } from "../api/images";
import {
  teacherApply,
  teacherExclude,
  teacherOverview,
  teacherPreview,
  type Params,
  type TeacherImage,
  type TeacherJobState,
  type TeacherOverview,
  type TeacherSettings,
} from "../api/teacher";
import type { ProjectSocket } from "../live";
import { imageHref } from "../routes";
import { errorText, h, type messageLine } from "../ui";
import { finishedText, jobText, PARAM_SPECS, readInput } from "./teacher-params";

type Message = ReturnType<typeof messageLine>;

/** One input per knob of the pipeline, set to the server's defaults; `changed` on every edit. */
export function knobPanel(defaults: Params, changed: () => void): { nodes: HTMLElement[]; read(): Params } {
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const nodes = PARAM_SPECS.map((spec) => {
    const value = defaults[spec.name];
    const input =
      spec.kind === "select"
        ? h("select", { name: spec.name }, ...(spec.options ?? []).map((o) => h("option", { value: o }, o)))
        : h("input", { name: spec.name, type: spec.kind, min: spec.min, max: spec.max, step: spec.step });
    if (spec.kind === "checkbox") (input as HTMLInputElement).checked = Boolean(value);
    else input.value = String(value);
    const shown = h("output", {}, spec.kind === "range" ? String(value) : "");
    input.addEventListener("input", () => {
      if (spec.kind === "range") shown.textContent = input.value;
      changed();
    });
    input.addEventListener("change", changed);
    inputs.set(spec.name, input);
    return h("label", { class: "teacher-knob" }, `${spec.label} `, input, shown);
  });
  const read = (): Params => Object.fromEntries(PARAM_SPECS.map((spec) => [spec.name, readInput(spec, inputs.get(spec.name)!)]));
  return { nodes, read };
}

/** The image to tune on, its stain channel and the channel shown under the nuclei found. */
export function imagePicker(stained: TeacherImage[], defaultChannel: string, changed: () => void) {
  const image = h("select", { name: "image", "data-testid": "teacher-image" }, ...stained.map((i) => h("option", { value: i.id }, i.name)));
  const channel = h("select", { name: "channel", "data-testid": "teacher-channel" });
  const show = h("select", { name: "show", "data-testid": "teacher-show" }); // the image under the overlay
  const base = h("img", { class: "teacher-base", alt: "image" });
  const current = (): TeacherImage => stained.find((i) => i.id === Number(image.value)) as TeacherImage;
  const showBase = (): void => {
    base.src = channelDisplayUrl(current().id, show.value);
  };

  function fillChannels(): void {
    const channels = current().channels;
    const wanted = channels.includes(channel.value) ? channel.value : defaultChannel;
    channel.replaceChildren(...channels.map((name) => h("option", { value: name }, name)));
    channel.value = channels.includes(wanted) ? wanted : channels[channels.length - 1];
    const shown = channels.includes(show.value) ? show.value : channel.value;
    show.replaceChildren(...channels.map((name) => h("option", { value: name }, name)));
    show.value = shown;
    showBase();
  }

  image.addEventListener("change", () => {
    fillChannels();
    changed();
  });
  channel.addEventListener("change", changed);
  show.addEventListener("change", showBase);
  fillChannels();
  const labels = [h("label", {}, "Image ", image), h("label", {}, "Stain channel ", channel), h("label", {}, "Show under the nuclei ", show)];
  return { labels, base, imageId: () => current().id, channel: () => channel.value };
}

/** The nuclei found with the settings of now, drawn over the image; answers to older asks are dropped. */
export function previewPane(imageId: () => number, settings: () => TeacherSettings, message: Message) {
  const count = h("strong", { "data-testid": "teacher-count" }, "…");
  const overlay = h("img", { class: "teacher-overlay", alt: "nuclei found", "data-testid": "teacher-overlay" });
  let latest = 0;
  async function refresh(): Promise<void> {
    const ask = ++latest;
    count.textContent = "…";
    try {
      const answer = await teacherPreview(imageId(), settings());
      if (ask !== latest) return;
      overlay.src = answer.overlay;
      count.textContent = `${answer.objects}`;
      message.clear();
    } catch (error) {
      if (ask === latest) message.error(errorText(error));
    }
  }
  return { count, overlay, refresh };
}

/** Every image of the project with the state of its pseudo-mask, and a button to leave it out. */
export function imageTable(projectId: number, overview: TeacherOverview, mayAnnotate: boolean, settings: () => TeacherSettings, message: Message) {
  const table = h("table", { class: "teacher-images", "data-testid": "teacher-images" });

  function excludeButton(image: TeacherImage): HTMLElement | string {
    if (image.channels.length < 2) return "";
    const excluded = image.state === "excluded";
    const toggle = async (): Promise<void> => {
      try {
        image.state = (await teacherExclude(image.id, !excluded, settings())).state;
        render();
      } catch (error) {
        message.error(errorText(error));
      }
    };
    return h("button", { type: "button", onclick: () => void toggle() }, excluded ? "Include" : "Exclude");
  }

  function render(): void {
    table.replaceChildren(
      h("tr", {}, ...["image", "channels", "pseudo-mask", ""].map((t) => h("th", {}, t))),
      ...overview.images.map((image) =>
        h(
          "tr",
          { "data-image": image.id },
          h("td", {}, h("a", { href: imageHref(projectId, image.id) }, image.name)),
          h("td", {}, image.channels.join(", ")),
          h("td", { class: `teacher-state ${image.state}` }, image.state),
          h("td", {}, mayAnnotate ? excludeButton(image) : ""),
        ),
      ),
    );
  }

  /** The states of now, after a job changed them. */
  async function reload(): Promise<void> {
    overview.images.splice(0, overview.images.length, ...(await teacherOverview(projectId)).images);
    render();
  }
  render();
  return { table, reload };
}

/** "Apply to all images": start the job, and follow it (or the one running when the page opened). */
export function jobPanel(projectId: number, last: TeacherJobState | null, socket: ProjectSocket, message: Message, finished: () => Promise<void>) {
  const progress = h("progress", { max: 1, value: 0, "data-testid": "teacher-progress" });
  const text = h("span", { "data-testid": "teacher-progress-text" });
  let job: string | null = null; // the job whose events move the bar
  if (last) {
    if (last.state === "queued" || last.state === "running") job = last.job;
    progress.max = Math.max(1, last.total);
    progress.value = last.state === "succeeded" ? last.total : last.done;
    text.textContent = jobText(last);
  }

  async function apply(settings: TeacherSettings): Promise<void> {
    try {
      const answer = await teacherApply(projectId, settings);
      job = answer.job;
      progress.max = Math.max(1, answer.total);
      progress.value = 0;
      text.textContent = `queued: ${answer.total} image(s)`;
    } catch (error) {
      message.error(errorText(error));
    }
  }

  socket.on("teacher.progress", (event) => {
    if (event.job !== job) return;
    progress.max = event.total;
    progress.value = event.done;
    text.textContent = `${event.done} / ${event.total} images`;
  });
  socket.on("teacher.finished", (event) => {
    if (event.job !== job) return;
    text.textContent = finishedText(event);
    void finished();
  });
  socket.on("teacher.failed", (event) => {
    if (event.job === job) message.error(`The teacher failed: ${event.error}`);
  });
  return { progress, text, apply };
}
