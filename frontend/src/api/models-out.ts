// Models out and in (training/api/models_out.py): a model version downloaded as TorchScript, ONNX
// or a BioImage.IO package, and such a package (exported by Lesslabel) imported into a project.
import { ApiError, messageOf, postForm, safeJSON, withQuery } from "./client";
import type { ModelVersion } from "./runs";

export type ExportFormat = "torchscript" | "onnx" | "bioimageio";

/** The formats in the order the buttons show them, with their labels. */
export const EXPORT_FORMATS: readonly { as: ExportFormat; label: string }[] = [
  { as: "torchscript", label: "TorchScript" },
  { as: "onnx", label: "ONNX" },
  { as: "bioimageio", label: "BioImage.IO" },
];

export const exportUrl = (versionId: number, as: ExportFormat): string => withQuery(`/api/model-versions/${versionId}/export/`, { as });

/** The file name a Content-Disposition header gives, or `fallback`. */
export function attachmentName(header: string | null, fallback: string): string {
  const match = header?.match(/filename="([^"]+)"/);
  return match ? match[1] : fallback;
}

/** The exported file and its name; an ApiError with the server's message when it refuses. */
export async function fetchExport(versionId: number, as: ExportFormat): Promise<{ blob: Blob; filename: string }> {
  const response = await fetch(exportUrl(versionId, as), { credentials: "same-origin" });
  if (!response.ok) {
    const body = safeJSON(await response.text());
    const record = body && typeof body === "object" ? (body as Record<string, unknown>) : {};
    throw new ApiError(response.status, messageOf(body, `${response.status} ${response.statusText}`), record);
  }
  const filename = attachmentName(response.headers.get("Content-Disposition"), `model-v${versionId}`);
  return { blob: await response.blob(), filename };
}

/** A BioImage.IO package exported by Lesslabel, as a new model version of the project. */
export function importModel(projectId: number, file: File): Promise<ModelVersion> {
  const form = new FormData();
  form.append("file", file);
  return postForm(`/api/projects/${projectId}/model-versions/import/`, form);
}
