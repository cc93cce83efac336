// Image-level tags: for each class, is it present in the image or absent? One click saves it; a
// refused save (someone tagged first) shows what is saved, so the next click is informed.
import { listAnnotations, saveTag, type Annotation } from "../api/annotations";
import type { LabelClass } from "../api/projects";
import type { ProjectSocket } from "../live";
import { errorText, h, type messageLine } from "../ui";

const tagsOf = (annotations: Annotation[]): Annotation[] => annotations.filter((a) => a.kind === "tag");

export function tagRow(
  imageId: number,
  classes: LabelClass[],
  annotations: Annotation[],
  editable: boolean,
  message: ReturnType<typeof messageLine>,
  socket: ProjectSocket,
): HTMLElement {
  const row = h("div", { class: "tags", "data-testid": "tags" });
  let tags = tagsOf(annotations);

  function render(): void {
    row.replaceChildren(
      ...classes.map((c) => {
        const tag = tags.find((t) => t.label_class === c.id && !t.is_deleted);
        const present = tag ? (tag.data.present as boolean) : null;
        const button = (value: boolean): HTMLButtonElement =>
          h(
            "button",
            { class: present === value ? "active" : "", "data-tag": `${c.name}:${value ? "present" : "absent"}`, disabled: !editable, onclick: () => void set(c, value) },
            value ? "present" : "absent",
          );
        return h("span", { class: "tag" }, h("strong", {}, c.name), button(true), button(false));
      }),
    );
  }

  async function reload(): Promise<void> {
    tags = tagsOf(await listAnnotations(imageId));
    render();
  }

  async function set(labelClass: LabelClass, present: boolean): Promise<void> {
    const tag = tags.find((t) => t.label_class === labelClass.id);
    try {
      const saved = await saveTag(imageId, labelClass.id, tag?.version ?? 0, present);
      tags = [...tags.filter((t) => t.id !== saved.id), saved];
      message.info(`Tagged: ${labelClass.name} ${present ? "present" : "absent"}.`);
      render();
    } catch (error) {
      await reload();
      message.error(`${errorText(error)} The tag now shows what is saved; click again to change it.`);
    }
  }

  socket.on("labels.changed", (event) => {
    if (event.image === imageId && event.kind === "tag") void reload();
  });
  render();
  return row;
}
