// A project: its image grid (label state, split, object counts, review status, filters, upload),
// predicting a selection with a model version, the split panel, the annotation import, the team
// panel (assignments, my queue, review), comments, classes, members, who is here, and for owners
// the list of changes to members and settings.
import { listImages } from "../api/images";
import { getProject, listClasses, listMembers } from "../api/projects";
import { ProjectSocket } from "../live";
import { watchPresence } from "../presence";
import { projectsHref, teacherHref, trainingHref } from "../routes";
import { canManage, h, type Stop } from "../ui";
import { annotationImport } from "./annotation-import";
import { exportButton } from "./export-dialog";
import { imageGrid } from "./image-grid";
import { PredictPanel } from "./predict-panel";
import { classSection, memberSection } from "./project-admin";
import { auditSection } from "./project-audit";
import { commentSection } from "./project-comments";
import { splitPanel } from "./project-split";
import { teamPanel } from "./project-team";
import { uploader } from "./upload";

export async function showProject(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, images, classes, members] = await Promise.all([
    getProject(projectId),
    listImages(projectId),
    listClasses(projectId),
    listMembers(projectId),
  ]);
  const socket = new ProjectSocket(projectId);
  const me = document.getElementById("app")?.dataset.user ?? "";
  const manage = canManage(project.role);
  const grid = imageGrid(projectId, images, classes, me, manage);
  const presenceLine = h("p", { class: "presence muted", "data-testid": "presence" }, "Nobody else is here.");
  watchPresence(socket, null, (present) => {
    presenceLine.textContent = present.length
      ? `Here now: ${present.map((p) => (p.image ? `${p.user} (image ${grid.nameOf(p.image) ?? p.image})` : p.user)).join(", ")}`
      : "Nobody else is here.";
    grid.setPresent(present);
  });
  socket.on("labels.changed", (event) => void grid.refresh(event.image));
  socket.on("image.rendered", (event) => void grid.refresh(event.image));
  socket.on("predictions.ready", (event) => grid.predictionsReady(event));
  const predict = new PredictPanel({
    projectId,
    socket,
    mayStart: manage,
    selection: { ids: () => grid.selection(), onChange: (listener) => grid.onSelection(listener) },
  });
  socket.on("run.state", (event) => {
    if (event.model_version) void predict.refreshVersions();
  });

  const uploadBox = manage ? uploader(projectId, (added) => grid.add(added)) : null;
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
    predict.node,
    h("section", {}, h("div", { class: "toolbar" }, h("h2", {}, "Images"), grid.filters), uploadBox, grid.node),
    splitPanel(projectId, grid, socket, manage),
    ...(manage ? [annotationImport(projectId, classes, grid.nameOf)] : []),
    commentSection(projectId, socket),
    classSection(project, classes),
    memberSection(project, members),
    ...(project.role === "owner" ? [auditSection(projectId)] : []),
  );
  await Promise.all([predict.refreshVersions(), predict.load()]);
  return () => socket.close();
}
