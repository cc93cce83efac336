// The training page's models out and in: download buttons in each model version's row
// (TorchScript, ONNX, BioImage.IO), and a form that imports a package exported by Lesslabel.
import { EXPORT_FORMATS, fetchExport, importModel, type ExportFormat } from "../api/models-out";
import type { ModelVersion } from "../api/runs";
import { errorText, h } from "../ui";

export interface Messages {
  error(text: string): void;
  info(text: string): void;
}

function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function download(version: ModelVersion, as: ExportFormat, label: string, button: HTMLButtonElement, message: Messages): Promise<void> {
  button.disabled = true;
  message.info(`Preparing v${version.id} as ${label}… (a few seconds)`);
  try {
    const { blob, filename } = await fetchExport(version.id, as);
    save(blob, filename);
    message.info(`Downloaded ${filename}.`);
  } catch (error) {
    message.error(errorText(error));
  } finally {
    button.disabled = false;
  }
}

/** The download buttons of one version's row; empty for versions that do not segment. */
export function exportCell(version: ModelVersion, message: Messages): HTMLElement {
  const cell = h("td", { class: "version-export" });
  if (version.kind !== "segmentation") return cell;
  for (const { as, label } of EXPORT_FORMATS) {
    const button = h("button", { type: "button", "data-export": as, title: `Download v${version.id} as ${label}` }, label);
    button.addEventListener("click", () => void download(version, as, label, button, message));
    cell.append(button);
  }
  return cell;
}

/** "Import a model": a package exported by Lesslabel becomes a model version of this project. */
export function importForm(projectId: number, message: Messages, imported: (version: ModelVersion) => void): HTMLElement {
  const file = h("input", { type: "file", accept: ".zip,application/zip", "data-testid": "model-import-file" });
  const submit = h("button", { type: "submit" }, "Import model");
  const form = h("form", { class: "inline-form", "data-testid": "model-import" }, file, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return message.error("Choose a .zip package exported by Lesslabel first.");
    submit.disabled = true;
    message.info(`Importing ${chosen.name}…`);
    try {
      const version = await importModel(projectId, chosen);
      message.info(`Imported as model version v${version.id}.`);
      form.reset();
      imported(version);
    } catch (error) {
      message.error(errorText(error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** What the training page adds for managers and owners: each row's download buttons, the import
form (both null for other roles). */
export function versionTools(
  projectId: number,
  manages: boolean,
  message: Messages,
  imported: (version: ModelVersion) => void,
): { exports: ((version: ModelVersion) => HTMLElement) | null; importer: HTMLElement | null } {
  if (!manages) return { exports: null, importer: null };
  return { exports: (version) => exportCell(version, message), importer: importForm(projectId, message, imported) };
}
