// A project: its image grid (label state, review status, filters, upload), the team panel
// (assignments, my queue, review), comments, classes, members, who is here, and for owners the
// list of changes to members and settings.
import { listImages, uploadImages, type ImageSummary } from "../api/images";
import { getProject, listClasses, listMembers } from "../api/projects";
import { ProjectSocket } from "../live";
import { watchPresence } from "../presence";
import { projectsHref, teacherHref, trainingHref } from "../routes";
import { canManage, errorText, h, messageLine, type Stop } from "../ui";
import { exportButton } from "./export-dialog";
import { imageGrid } from "./image-grid";
import { classSection, memberSection } from "./project-admin";
import { auditSection } from "./project-audit";
import { commentSection } from "./project-comments";
import { teamPanel } from "./project-team";

export async function showProject(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, images, classes, members] = await Promise.all([
    getProject(projectId),
    listImages(projectId),
    listClasses(projectId),
    listMembers(projectId),
  ]);
  const socket = new ProjectSocket(projectId);
  const me = document.getElementById("app")?.dataset.user ?? "";
  const grid = imageGrid(projectId, images, me, canManage(project.role));
  const presenceLine = h("p", { class: "presence muted", "data-testid": "presence" }, "Nobody else is here.");
  watchPresence(socket, null, (present) => {
    presenceLine.textContent = present.length
      ? `Here now: ${present.map((p) => (p.image ? `${p.user} (image ${grid.nameOf(p.image) ?? p.image})` : p.user)).join(", ")}`
      : "Nobody else is here.";
    grid.setPresent(present);
  });
  socket.on("labels.changed", (event) => void grid.refresh(event.image));
  socket.on("image.rendered", (event) => void grid.refresh(event.image));
  socket.on("predictions.ready", (event) => grid.markPredicted(event.predictions.map((row) => row.image)));

  const uploadBox = canManage(project.role) ? uploader(projectId, (added) => grid.add(added)) : null;
  root.replaceChildren(
    h(
      "nav",
      { class: "crumbs" },
      h("a", { href: projectsHref() }, "Projects"),
      " / ",
      h("strong", {}, project.name),
      h("span", { class: "muted" }, ` · you are ${project.role}`),
      exportButton(projectId),
      h("a", { class: "button", href: teacherHref(projectId) }, "Fluorescence teacher"),
      h("a", { class: "button", href: trainingHref(projectId) }, "Training →"),
    ),
    presenceLine,
    teamPanel(project, members, grid, me, socket),
    h("section", {}, h("div", { class: "toolbar" }, h("h2", {}, "Images"), grid.filters), uploadBox, grid.node),
    commentSection(projectId, socket),
    classSection(project, classes),
    memberSection(project, members),
    ...(project.role === "owner" ? [auditSection(projectId)] : []),
  );
  return () => socket.close();
}

/** Drag and drop (or pick) files; one request, with a progress bar and the server's verdict. */
function uploader(projectId: number, added: (images: ImageSummary[]) => void): HTMLElement {
  const input = h("input", { type: "file", multiple: true, accept: ".png,.tif,.tiff,.jpg,.jpeg", "data-testid": "upload-input" });
  const bar = h("progress", { max: 1, value: 0, hidden: true });
  const message = messageLine();
  const zone = h(
    "div",
    { class: "drop-zone", "data-testid": "drop-zone" },
    h("span", {}, "Drop images here (PNG, TIFF, JPEG; one file per image or per channel) or "),
    input,
    bar,
    message.node,
  );

  async function send(files: File[]): Promise<void> {
    if (!files.length) return;
    bar.hidden = false;
    bar.value = 0;
    message.info(`Uploading ${files.length} file(s)…`);
    try {
      const images = await uploadImages(projectId, files, (fraction) => {
        bar.value = fraction;
        if (fraction >= 1) message.info("Reading the images on the server…");
      });
      message.info(`Added ${images.map((image) => image.name).join(", ")}.`);
      added(images);
    } catch (error) {
      message.error(`Nothing was added: ${errorText(error)}`);
    } finally {
      bar.hidden = true;
      input.value = "";
    }
  }

  input.addEventListener("change", () => void send([...(input.files ?? [])]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    void send([...(event.dataTransfer?.files ?? [])]);
  });
  return zone;
}
