// The user's projects, the invitations waiting for their answer, and a form to start a new one.
import { createProject, listProjects } from "../api/projects";
import { projectHref } from "../routes";
import { errorText, h, messageLine, type Stop } from "../ui";
import { invitationsBox } from "./invitations";

export async function showProjects(root: HTMLElement): Promise<Stop> {
  const [projects, invitations] = await Promise.all([listProjects(), invitationsBox()]);
  const message = messageLine();
  const list = h("ul", { class: "project-list" });
  for (const project of projects) {
    list.append(
      h(
        "li",
        {},
        h("a", { href: projectHref(project.id) }, project.name),
        h("span", { class: "muted" }, ` · ${project.role ?? "no role"}`),
        project.description ? h("p", { class: "muted" }, project.description) : null,
      ),
    );
  }
  const name = h("input", { name: "name", placeholder: "Project name", required: true, maxlength: 100 });
  const description = h("input", { name: "description", placeholder: "What is segmented, by whom" });
  const form = h("form", { class: "inline-form" }, name, description, h("button", { type: "submit" }, "New project"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const project = await createProject(name.value.trim(), description.value.trim());
      location.hash = projectHref(project.id);
    } catch (error) {
      message.error(errorText(error));
    }
  });
  root.replaceChildren(
    h("h1", {}, "Projects"),
    ...(invitations ? [invitations] : []),
    projects.length ? list : h("p", {}, "No projects yet: start one below, or ask an owner to invite you."),
    form,
    message.node,
  );
  return () => {};
}
