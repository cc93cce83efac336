// The project page's annotation import (managers): drop a folder or a zip of label images, COCO
// JSON or QuPath GeoJSON (or pick them), choose how label images are read, and send them to the
// import endpoint, which attaches them to images by name as dense layers, all or nothing. The
// server's answer is shown file by file: attached, or skipped and why; a refusal with its message.
import { importAnnotations, type ImportOptions } from "../api/annotations";
import type { LabelClass } from "../api/projects";
import { dropZone, errorText, h, messageLine, selectField } from "../ui";
import { importHeadline, importLines } from "./import-result";

/** Every file of a drop, walking into dropped folders (their files carry only their own names). */
async function droppedFiles(transfer: DataTransfer): Promise<File[]> {
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry?.()).filter((entry): entry is FileSystemEntry => Boolean(entry));
  if (!entries.length) return [...transfer.files];
  const files: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      files.push(await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)));
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) return; // readEntries answers in batches until an empty one
      for (const child of batch) await walk(child);
    }
  };
  for (const entry of entries) await walk(entry);
  return files;
}

/** How the files are read: label images as instances of a class or as class maps, and the rest. */
function optionControls(classes: LabelClass[]) {
  const mode = selectField("label_images", ["instances", "classes"], "instances");
  const objectClass = h("input", { name: "class_name", list: "import-classes", value: classes.find((c) => c.index > 1)?.name ?? "", size: 12 });
  const create = h("input", { type: "checkbox", name: "create_classes" });
  const existing = selectField("existing", ["refuse", "skip", "replace"], "skip");
  const node = h(
    "div",
    { class: "annotation-import" },
    h("datalist", { id: "import-classes" }, ...classes.map((c) => h("option", { value: c.name }))),
    h("label", {}, "Label images are ", mode),
    h("label", {}, "objects of class ", objectClass),
    h("label", {}, create, " create missing classes"),
    h("label", {}, "Images with a dense mask: ", existing),
  );
  const read = (): ImportOptions => ({
    label_images: mode.value as ImportOptions["label_images"],
    class_name: objectClass.value.trim() || undefined,
    create_classes: create.checked,
    existing: existing.value as ImportOptions["existing"],
  });
  return { node, read };
}

export function annotationImport(projectId: number, classes: LabelClass[], nameOf: (id: number) => string | undefined): HTMLElement {
  const options = optionControls(classes);
  const files = h("input", { type: "file", multiple: true, accept: ".zip,.json,.geojson,.png,.tif,.tiff", "data-testid": "import-input" });
  const folder = h("input", { type: "file", webkitdirectory: true, "aria-label": "Import a folder", "data-testid": "import-folder" });
  const message = messageLine();
  const list = h("ul", { class: "import-result", "data-testid": "import-result" });
  const zone = h(
    "div",
    { class: "drop-zone", "data-testid": "import-zone" },
    h("span", {}, "Drop a folder or a zip of label images, COCO JSON or GeoJSON here (named like their images), or pick files "),
    files,
    h("span", {}, " or a folder "),
    folder,
    message.node,
    list,
  );

  async function send(chosen: File[]): Promise<void> {
    if (!chosen.length) return;
    list.replaceChildren();
    message.info(`Importing ${chosen.length} file(s)…`);
    try {
      const result = await importAnnotations(projectId, chosen, options.read());
      message.info(importHeadline(result));
      list.replaceChildren(...importLines(result, nameOf).map((line) => h("li", { class: line.kind }, line.text)));
    } catch (error) {
      message.error(`Nothing was imported: ${errorText(error)}`);
    } finally {
      files.value = folder.value = "";
    }
  }

  for (const input of [files, folder]) input.addEventListener("change", () => void send([...(input.files ?? [])]));
  dropZone(zone, (data) => void droppedFiles(data).then(send, (error) => message.error(errorText(error))));
  return h("section", { "data-testid": "annotation-import" }, h("h3", {}, "Import annotations"), options.node, zone);
}
