// A project's export as one zip (training/exports): the URL the browser downloads, so the zip
// streams to disk and is never held in the page's memory.

export type ExportWhat = "human" | "accepted" | "predictions";
export type ExportFormat = "classes" | "instances" | "ome" | "coco" | "geojson" | "csv";

export const EXPORT_FORMATS: { value: ExportFormat; label: string }[] = [
  { value: "classes", label: "Class masks (TIFF; Fiji, napari)" },
  { value: "instances", label: "Instance masks (TIFF; Fiji, napari, CellProfiler)" },
  { value: "ome", label: "OME-TIFF of image + labels, with pixel size" },
  { value: "coco", label: "COCO instance segmentation (JSON)" },
  { value: "geojson", label: "QuPath GeoJSON (one feature per object)" },
  { value: "csv", label: "Measurements per object (CSV)" },
];

export interface ExportChoice {
  what: ExportWhat;
  formats: ExportFormat[];
  modelVersion: number | null;
}

/** The export's URL, or the reason the choice cannot be exported yet. */
export function exportUrl(projectId: number, choice: ExportChoice): { url: string } | { problem: string } {
  if (!choice.formats.length) return { problem: "Choose at least one format." };
  const query = new URLSearchParams({ what: choice.what, as: choice.formats.join(",") });
  if (choice.what === "predictions") {
    if (choice.modelVersion === null) return { problem: "Choose the model version whose predictions to export." };
    query.set("model_version", String(choice.modelVersion));
  }
  return { url: `/api/projects/${projectId}/export/?${query.toString()}` };
}
