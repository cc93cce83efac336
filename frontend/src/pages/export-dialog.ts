// The project page's "Export" dialog: what (a person's labels, accepted predictions, a model
// version's predictions), in which formats, downloaded as one zip the server streams.
import { EXPORT_FORMATS, exportUrl, type ExportChoice, type ExportFormat, type ExportWhat } from "../api/exports";
import { listModelVersions } from "../api/runs";
import { errorText, h, messageLine } from "../ui";
import { predicts } from "./versions";

const WHATS: { value: ExportWhat; label: string }[] = [
  { value: "human", label: "Human labels" },
  { value: "accepted", label: "Accepted labels (predictions a person accepted)" },
  { value: "predictions", label: "Predictions of a model version" },
];

/** A button that opens the dialog; the dialog is made when first opened. */
export function exportButton(projectId: number): HTMLElement {
  const button = h("button", { type: "button", class: "button", "data-testid": "export-open" }, "Export…");
  let dialog: HTMLDialogElement | null = null;
  button.addEventListener("click", () => {
    dialog ??= exportDialog(projectId);
    if (!dialog.isConnected) document.body.append(dialog);
    dialog.showModal();
  });
  return button;
}

function exportDialog(projectId: number): HTMLDialogElement {
  const what = h("select", { name: "what", "data-testid": "export-what" });
  for (const option of WHATS) what.append(h("option", { value: option.value }, option.label));
  const version = h("select", { name: "model_version", "data-testid": "export-version" });
  const versionRow = h("label", { hidden: true }, "Model version ", version);
  const boxes = EXPORT_FORMATS.map((format) =>
    h("input", { type: "checkbox", name: "as", value: format.value, checked: format.value !== "ome" }),
  );
  const formats = h(
    "fieldset",
    {},
    h("legend", {}, "Formats"),
    ...EXPORT_FORMATS.map((format, n) => h("label", { class: "check" }, boxes[n], ` ${format.label}`)),
  );
  const download = h("a", { class: "button primary", download: "", "data-testid": "export-download" }, "Download zip");
  const message = messageLine();
  const close = h("button", { type: "button", class: "button" }, "Close");
  const dialog = h(
    "dialog",
    { class: "export-dialog", "data-testid": "export-dialog" },
    h("h2", {}, "Export"),
    h("label", {}, "What ", what),
    versionRow,
    formats,
    message.node,
    h("div", { class: "toolbar" }, download, close),
  );

  const choice = (): ExportChoice => ({
    what: what.value as ExportWhat,
    formats: boxes.filter((box) => box.checked).map((box) => box.value as ExportFormat),
    modelVersion: version.value ? Number(version.value) : null,
  });
  const update = (): void => {
    versionRow.hidden = what.value !== "predictions";
    const found = exportUrl(projectId, choice());
    if ("url" in found) {
      download.href = found.url;
      download.removeAttribute("aria-disabled");
      message.clear();
    } else {
      download.removeAttribute("href");
      download.setAttribute("aria-disabled", "true");
      message.info(found.problem);
    }
  };
  what.addEventListener("change", update);
  version.addEventListener("change", update);
  formats.addEventListener("change", update);
  close.addEventListener("click", () => dialog.close());
  download.addEventListener("click", () => message.info("The zip is made while it downloads; large projects take a while."));
  void loadVersions(projectId, version, message).then(update);
  update();
  return dialog;
}

async function loadVersions(
  projectId: number,
  select: HTMLSelectElement,
  message: ReturnType<typeof messageLine>,
): Promise<void> {
  try {
    const versions = (await listModelVersions(projectId)).filter(predicts);
    select.replaceChildren(...versions.map((v) => h("option", { value: String(v.id) }, `model v${v.id} (${v.created_at.slice(0, 10)})`)));
  } catch (error) {
    message.error(`The model versions could not be listed: ${errorText(error)}`);
  }
}
