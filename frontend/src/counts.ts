// Objects per countable class, as the grid's cards and the annotator show them: "12 nucleus".
// Counts come from the server keyed by class index as text (training/predict, ImageOut.object_counts).
import type { EventOf } from "./api/events.gen";
import type { ImageSummary, ObjectCounts } from "./api/images";

interface Named {
  index: number;
  name: string;
}

/** One "<n> <class>" per counted class, in class order; a class the project no longer has is "class <k>". */
export function countLines(counts: Record<string, number>, classes: Named[]): string[] {
  const names = new Map(classes.map((c) => [c.index, c.name]));
  return Object.entries(counts)
    .map(([key, count]) => [Number(key), count] as const)
    .filter(([index, count]) => Number.isInteger(index) && Number.isFinite(count))
    .sort((a, b) => a[0] - b[0])
    .map(([index, count]) => `${count} ${names.get(index) ?? `class ${index}`}`);
}

/**
 * The counts an image shows once `version` has predicted it: the newest version's, as the
 * server's image list does (model versions are numbered in the order they were made), so a late
 * event of an older version does not replace a newer one's counts.
 */
export function newestCounts(shown: ObjectCounts | null, version: number, counts: Record<string, number>): ObjectCounts {
  if (shown && shown.model_version > version) return shown;
  return { model_version: version, counts };
}

/** An image the event's predictions include is predicted, and shows the newest version's counts. */
export function takePrediction(image: ImageSummary, event: EventOf<"predictions.ready">): void {
  const row = event.predictions.find((p) => p.image === image.id);
  if (!row) return;
  image.predicted = true;
  image.object_counts = newestCounts(image.object_counts, event.model_version, row.counts);
}
