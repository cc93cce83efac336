// The fluorescence teacher page: tune the classical nucleus pipeline on one image with a live
// preview, apply it to every image (progress over the socket), exclude images, and start a
// brightfield-only run on the pseudo-masks (training/features/teacher.py, README "Fluorescence teacher").
import { getProject } from "../api/projects";
import { createRun } from "../api/runs";
import { teacherOverview, type TeacherSettings } from "../api/teacher";
import { ProjectSocket } from "../live";
import { trainingHref } from "../routes";
import { canAnnotate, canManage, crumbs, errorText, h, messageLine, type Stop } from "../ui";
import { debounce } from "./teacher-params";
import { imagePicker, imageTable, jobPanel, knobPanel, previewPane } from "./teacher-parts";

const SOURCE = "fluorescence-teacher";
const PREVIEW_DELAY_MS = 300;

export async function showTeacher(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, overview] = await Promise.all([getProject(projectId), teacherOverview(projectId)]);
  const socket = new ProjectSocket(projectId);
  const title = crumbs(projectId, project.name, h("strong", {}, "Fluorescence teacher"));
  const stained = overview.images.filter((image) => image.channels.length > 1);
  if (!stained.length) {
    root.replaceChildren(title, h("p", {}, "No image of this project has more than one channel: upload brightfield + fluorescence pairs first."));
    return () => socket.close();
  }
  const message = messageLine();
  const mayAnnotate = canAnnotate(project.role);
  const later = debounce(() => void preview.refresh(), PREVIEW_DELAY_MS);
  const knobs = knobPanel(overview.defaults, later.call);
  const picker = imagePicker(stained, overview.channel, later.call);
  const settings = (): TeacherSettings => ({ channel: picker.channel(), params: knobs.read() });
  const preview = previewPane(picker.imageId, settings, message);
  const images = imageTable(projectId, overview, mayAnnotate, settings, message);
  const job = jobPanel(projectId, overview.job, socket, message, images.reload);

  async function trainBrightfield(): Promise<void> {
    const config = { channels: ["brightfield"], label_sources: ["derived"], derived_sources: [SOURCE] };
    try {
      await createRun(projectId, config);
      location.hash = trainingHref(projectId);
    } catch (error) {
      message.error(errorText(error));
    }
  }

  const actions = mayAnnotate
    ? h(
        "div",
        { class: "teacher-actions" },
        h("button", { type: "button", "data-testid": "teacher-apply", onclick: () => void job.apply(settings()) }, "Apply to all images"),
        job.progress,
        job.text,
        canManage(project.role)
          ? h("button", { type: "button", "data-testid": "teacher-train", onclick: () => void trainBrightfield() }, "Train a brightfield model on these")
          : h("a", { href: trainingHref(projectId) }, "Training →"),
      )
    : h("p", { class: "muted" }, "Annotators, managers and owners tune and apply the teacher.");
  root.replaceChildren(
    title,
    h(
      "div",
      { class: "teacher-layout" },
      h("section", { class: "teacher-controls" }, ...picker.labels, ...knobs.nodes, h("p", {}, "Nuclei found: ", preview.count), message.node),
      h("section", { class: "teacher-preview" }, h("div", { class: "teacher-stack" }, picker.base, preview.overlay)),
    ),
    actions,
    h("section", {}, h("h2", {}, "Images"), images.table),
  );
  if (mayAnnotate) void preview.refresh();
  return () => {
    later.cancel();
    socket.close();
  };
}
