// A project's classes (name, colour, new ones) and members (role; invitations for new ones): what
// managers and owners change on the project page.
import { createClass, setMemberRole, updateClass, type LabelClass, type Member, type Project, type Role } from "../api/projects";
import { canManage, errorText, h, messageLine } from "../ui";
import { invitePanel } from "./invitations";

export function classSection(project: Project, classes: LabelClass[]): HTMLElement {
  const editable = canManage(project.role);
  const message = messageLine();
  const list = h("ul", { class: "class-list", "data-testid": "classes" });

  function row(labelClass: LabelClass): HTMLElement {
    const name = h("input", { value: labelClass.name, "aria-label": "Class name", disabled: !editable });
    const color = h("input", { type: "color", value: labelClass.color, "aria-label": "Colour", disabled: !editable });
    const save = async (change: Partial<LabelClass>): Promise<void> => {
      try {
        Object.assign(labelClass, await updateClass(project.id, labelClass.id, change));
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
      const created = await createClass(project.id, name.value.trim());
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

export function memberSection(project: Project, members: Member[]): HTMLElement {
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
        await setMemberRole(project.id, member.user_id, role);
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
  const invite = editable ? invitePanel(project.id, (onChange) => roleSelect("annotator", onChange)) : null;
  return h("section", {}, h("h2", {}, "Members"), list, message.node, invite);
}
