// The minimal shell until the labelling tool (issue #5): the user's projects and their images.
import { listImages, listProjects, type ImageSummary, type Project } from "./api";
import "./style.css";

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", className = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

function imageCard(image: ImageSummary): HTMLElement {
  const card = element("figure", "", "image-card");
  const thumbnail = element("img");
  thumbnail.src = image.thumbnail_url;
  thumbnail.alt = image.name;
  thumbnail.loading = "lazy";
  const caption = element("figcaption", `${image.name} · ${image.width}×${image.height} · ${image.channels.map((c) => c.name).join(" + ")}`);
  card.append(thumbnail, caption);
  return card;
}

async function projectSection(project: Project): Promise<HTMLElement> {
  const section = element("section", "", "project");
  section.append(element("h2", project.name), element("p", `${project.description} (your role: ${project.role ?? "none"})`));
  const grid = element("div", "", "image-grid");
  for (const image of await listImages(project.id)) grid.append(imageCard(image));
  section.append(grid);
  return section;
}

async function main(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  try {
    const projects = await listProjects();
    root.replaceChildren();
    if (projects.length === 0) root.append(element("p", "No projects yet."));
    for (const project of projects) root.append(await projectSection(project));
  } catch (error) {
    root.replaceChildren(element("p", `Could not load projects: ${String(error)}`, "error"));
  }
}

void main();
