// A project: its image grid (label state, filters, upload), classes, members, and who is here.
import {
  getImage,
  getProject,
  listClasses,
  listImages,
  listMembers,
  patchJSON,
  postJSON,
  uploadImages,
  type ImageSummary,
  type LabelClass,
  type Member,
  type Project,
  type Role,
} from "../api";
import { ProjectSocket, type LiveEvent } from "../live";
import { canManage, errorText, h, messageLine, type Stop } from "../ui";

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

export async function showProject(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, images, classes, members] = await Promise.all([
    getProject(projectId),
    listImages(projectId),
    listClasses(projectId),
    listMembers(projectId),
  ]);
  const socket = new ProjectSocket(projectId);
  const byId = new Map(images.map((image) => [image.id, image]));
  const presence = new Map<string, { user: string; image: number | null }>();
  let filter = "all";

  const grid = h("div", { class: "image-grid", "data-testid": "image-grid" });
  const presenceLine = h("p", { class: "presence muted", "data-testid": "presence" });

  function renderGrid(): void {
    const shown = [...byId.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .filter((image) => filter === "all" || labelStates(image).includes(filter));
    grid.replaceChildren(...shown.map(card));
    if (!shown.length) grid.append(h("p", { class: "muted" }, byId.size ? "No image matches this filter." : "No images yet."));
  }

  function card(image: ImageSummary): HTMLElement {
    const here = [...presence.values()].filter((p) => p.image === image.id).map((p) => p.user);
    const thumbnail = image.renditions_ready
      ? h("img", { src: `${image.thumbnail_url}?v=${image.label_kinds.length}`, alt: image.name, loading: "lazy" })
      : h("div", { class: "rendering" }, "rendering…");
    return h(
      "a",
      { class: "image-card", href: `#/projects/${projectId}/images/${image.id}`, "data-image": image.id },
      thumbnail,
      h("span", { class: "caption" }, `${image.name} · ${image.width}×${image.height}`),
      h("span", { class: "badges" }, ...labelStates(image).map((state) => h("span", { class: `badge ${state}` }, state))),
      here.length ? h("span", { class: "here" }, `👤 ${here.join(", ")}`) : null,
    );
  }

  function renderPresence(): void {
    const others = [...presence.values()];
    presenceLine.textContent = others.length
      ? `Here now: ${others.map((p) => (p.image ? `${p.user} (image ${byId.get(p.image)?.name ?? p.image})` : p.user)).join(", ")}`
      : "Nobody else is here.";
  }

  async function refreshImage(id: number): Promise<void> {
    try {
      byId.set(id, await getImage(id));
      renderGrid();
    } catch {
      byId.delete(id); // archived meanwhile
      renderGrid();
    }
  }

  socket.on("hello", (event) => {
    presence.clear();
    for (const entry of (event.present as { user: string; image: number | null; session: string }[]) ?? []) {
      presence.set(entry.session, entry);
    }
    socket.send({ type: "presence", image: null });
    renderPresence();
    renderGrid();
  });
  socket.on("presence", (event: LiveEvent) => {
    const session = String(event.session);
    if (event.left) presence.delete(session);
    else presence.set(session, { user: String(event.user), image: (event.image as number | null) ?? null });
    renderPresence();
    renderGrid();
  });
  socket.on("labels.changed", (event) => void refreshImage(Number(event.image)));
  socket.on("image.rendered", (event) => void refreshImage(Number(event.image)));
  socket.on("predictions.ready", (event) => {
    for (const row of (event.predictions as { image: number }[]) ?? []) {
      const image = byId.get(row.image);
      if (image) image.predicted = true;
    }
    renderGrid();
  });

  const filters = h(
    "select",
    { "aria-label": "Show", "data-testid": "filter" },
    ...FILTERS.map((name) => h("option", { value: name }, name)),
  );
  filters.addEventListener("change", () => {
    filter = filters.value;
    renderGrid();
  });

  const uploadBox = canManage(project.role)
    ? uploader(projectId, (added) => {
        for (const image of added) byId.set(image.id, image);
        renderGrid();
      })
    : null;

  renderGrid();
  renderPresence();
  root.replaceChildren(
    h(
      "nav",
      { class: "crumbs" },
      h("a", { href: "#/" }, "Projects"),
      " / ",
      h("strong", {}, project.name),
      h("span", { class: "muted" }, ` · you are ${project.role}`),
      h("a", { class: "button", href: `#/projects/${projectId}/teacher` }, "Fluorescence teacher"),
      h("a", { class: "button", href: `#/projects/${projectId}/training` }, "Training →"),
    ),
    presenceLine,
    h("section", {}, h("div", { class: "toolbar" }, h("h2", {}, "Images"), filters), uploadBox, grid),
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

function classSection(project: Project, classes: LabelClass[]): HTMLElement {
  const editable = canManage(project.role);
  const message = messageLine();
  const list = h("ul", { class: "class-list", "data-testid": "classes" });

  function row(labelClass: LabelClass): HTMLElement {
    const name = h("input", { value: labelClass.name, "aria-label": "Class name", disabled: !editable });
    const color = h("input", { type: "color", value: labelClass.color, "aria-label": "Colour", disabled: !editable });
    const save = async (change: Partial<LabelClass>): Promise<void> => {
      try {
        Object.assign(labelClass, await patchJSON(`/api/projects/${project.id}/classes/${labelClass.id}/`, change));
        message.info(`Saved ${labelClass.name}.`);
      } catch (error) {
        message.error(errorText(error));
        name.value = labelClass.name;
        color.value = labelClass.color;
      }
    };
    name.addEventListener("change", () => void save({ name: name.value.trim() }));
    color.addEventListener("change", () => void save({ color: color.value }));
    return h("li", {}, h("span", { class: "class-index" }, String(labelClass.index)), color, name);
  }

  list.append(...classes.map(row));
  const name = h("input", { placeholder: "New class (e.g. nucleus)", required: true, maxlength: 100 });
  const form = h("form", { class: "inline-form" }, name, h("button", { type: "submit" }, "Add class"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await postJSON<LabelClass>(`/api/projects/${project.id}/classes/`, { name: name.value.trim() });
      list.append(row(created));
      name.value = "";
      message.clear();
    } catch (error) {
      message.error(errorText(error));
    }
  });
  return h("section", {}, h("h2", {}, "Classes"), list, editable ? form : null, message.node);
}

const ROLES: Role[] = ["owner", "manager", "annotator", "viewer"];

function memberSection(project: Project, members: Member[]): HTMLElement {
  const editable = project.role === "owner";
  const message = messageLine();
  const list = h("ul", { class: "member-list" });

  function roleSelect(current: Role, onChange: (role: Role) => void): HTMLSelectElement {
    const select = h("select", { disabled: !editable }, ...ROLES.map((role) => h("option", { value: role }, role)));
    select.value = current;
    select.addEventListener("change", () => onChange(select.value as Role));
    return select;
  }

  function row(member: Member): HTMLElement {
    const select = roleSelect(member.role, async (role) => {
      try {
        await patchJSON(`/api/projects/${project.id}/members/${member.user_id}/`, { role });
        member.role = role;
        message.info(`${member.username} is now ${role}.`);
      } catch (error) {
        select.value = member.role;
        message.error(errorText(error));
      }
    });
    return h("li", {}, h("span", {}, member.username), select);
  }

  list.append(...members.map(row));
  const username = h("input", { placeholder: "User name", required: true });
  let newRole: Role = "annotator";
  const form = h(
    "form",
    { class: "inline-form" },
    username,
    roleSelect(newRole, (role) => (newRole = role)),
    h("button", { type: "submit" }, "Add member"),
  );
  (form.querySelector("select") as HTMLSelectElement).disabled = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      list.append(row(await postJSON<Member>(`/api/projects/${project.id}/members/`, { username: username.value.trim(), role: newRole })));
      username.value = "";
      message.clear();
    } catch (error) {
      message.error(errorText(error));
    }
  });
  return h("section", {}, h("h2", {}, "Members"), list, editable ? form : null, message.node);
}
