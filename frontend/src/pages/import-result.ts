// What an annotation import did, as lines for the person who sent it: the images given a dense
// layer, the classes created, and every image skipped with the server's reason. Pure.
import type { ImportResult } from "../api/annotations";

export interface ImportLine {
  kind: "attached" | "skipped" | "note";
  text: string;
}

export function importLines(result: ImportResult, nameOf: (id: number) => string | undefined): ImportLine[] {
  const names = result.images.map((id) => nameOf(id) ?? `image ${id}`).sort((a, b) => a.localeCompare(b));
  const lines: ImportLine[] = names.map((name) => ({ kind: "attached", text: `${name}: attached` }));
  lines.push(...result.skipped.map(({ image, reason }): ImportLine => ({ kind: "skipped", text: `${image}: skipped, ${reason}` })));
  if (result.classes_created.length) lines.push({ kind: "note", text: `Classes created: ${result.classes_created.join(", ")}` });
  if (result.skipped_shapes) lines.push({ kind: "note", text: `${result.skipped_shapes} point, line or box shape(s) left out: they cannot be masks` });
  return lines;
}

/** One line: "Attached labels to 3 image(s) (12 objects); 1 skipped." */
export function importHeadline(result: ImportResult): string {
  const skipped = result.skipped.length ? `; ${result.skipped.length} skipped` : "";
  return `Attached labels to ${result.images.length} image(s) (${result.objects} objects)${skipped}.`;
}
