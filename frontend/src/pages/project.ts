// A project: its image grid (label state, filters, upload), classes, members, and who is here.
import { getImage, listImages, thumbnailUrl, uploadImages, type ImageSummary } from "../api/images";
import { getProject, listClasses, listMembers } from "../api/projects";
import { ProjectSocket } from "../live";
import { watchPresence, type Present } from "../presence";
import { imageHref, projectsHref, teacherHref, trainingHref } from "../routes";
import { canManage, errorText, h, messageLine, type Stop } from "../ui";
import { classSection, memberSection } from "./project-admin";

/** What the grid shows of an image's labels, most informative first. */
export function labelStates(image: ImageSummary): string[] {
  const states: string[] = [];
  if (image.label_kinds.includes("dense")) states.push("dense");
  if (image.label_kinds.includes("scribble")) states.push("scribbled");
  if (image.label_kinds.includes("tag")) states.push("tagged");
  if (image.label_kinds.includes("derived")) states.push("derived");
  if (image.predicted) states.push("predicted");
  return states.length ? states : ["unlabelled"];
}

const FILTERS = ["all", "unlabelled", "tagged", "scribbled", "dense", "derived", "predicted"];

/** The image grid: a card per image with its label state and who is on it, filtered by state. */
function imageGrid(projectId: number, images: ImageSummary[]) {
  const byId = new Map(images.map((image) => [image.id, image]));
  const node = h("div", { class: "image-grid", "data-testid": "image-grid" });
  const filter = h("select", { "aria-label": "Show", "data-testid": "filter" }, ...FILTERS.map((name) => h("option", { value: name }, name)));
  let present: Present[] = [];

  function card(image: ImageSummary): HTMLElement {
    const here = present.filter((p) => p.image === image.id).map((p) => p.user);
    const thumbnail = image.renditions_ready
      ? h("img", { src: thumbnailUrl(image), alt: image.name, loading: "lazy" })
      : h("div", { class: "rendering" }, "rendering…");
    return h(
      "a",
      { class: "image-card", href: imageHref(projectId, image.id), "data-image": image.id },
      thumbnail,
      h("span", { class: "caption" }, `${image.name} · ${image.width}×${image.height}`),
      h("span", { class: "badges" }, ...labelStates(image).map((state) => h("span", { class: `badge ${state}` }, state))),
      here.length ? h("span", { class: "here" }, `👤 ${here.join(", ")}`) : null,
    );
  }

  function render(): void {
    const shown = [...byId.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .filter((image) => filter.value === "all" || labelStates(image).includes(filter.value));
    node.replaceChildren(...shown.map(card));
    if (!shown.length) node.append(h("p", { class: "muted" }, byId.size ? "No image matches this filter." : "No images yet."));
  }

  /** Read an image again after it changed (or drop it: archived meanwhile). */
  async function refresh(id: number): Promise<void> {
    try {
      byId.set(id, await getImage(id));
    } catch {
      byId.delete(id);
    }
    render();
  }

  filter.addEventListener("change", render);
  render();
  return {
    node,
    filter,
    refresh,
    nameOf: (id: number): string | undefined => byId.get(id)?.name,
    add(added: ImageSummary[]): void {
      for (const image of added) byId.set(image.id, image);
      render();
    },
    markPredicted(ids: number[]): void {
      for (const id of ids) {
        const image = byId.get(id);
        if (image) image.predicted = true;
      }
      render();
    },
    setPresent(people: Present[]): void {
      present = people;
      render();
    },
  };
}

export async function showProject(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, images, classes, members] = await Promise.all([
    getProject(projectId),
    listImages(projectId),
    listClasses(projectId),
    listMembers(projectId),
  ]);
  const socket = new ProjectSocket(projectId);
  const grid = imageGrid(projectId, images);
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
      h("a", { class: "button", href: teacherHref(projectId) }, "Fluorescence teacher"),
      h("a", { class: "button", href: trainingHref(projectId) }, "Training →"),
    ),
    presenceLine,
    h("section", {}, h("div", { class: "toolbar" }, h("h2", {}, "Images"), grid.filter), uploadBox, grid.node),
    classSection(project, classes),
    memberSection(project, members),
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
