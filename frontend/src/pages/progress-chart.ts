// The maths of the progress page's chart (pages/progress.ts): one horizontal bar per member (and
// one for the project), split by review status in workflow order, scaled to the largest bar.
// Pure: no DOM.
import { STATUSES, type ImageStatus, type Tally } from "../api/team";

export interface Segment {
  status: ImageStatus;
  count: number;
  x: number;
  width: number;
}

export interface Bar {
  label: string;
  total: number;
  segments: Segment[];
}

/** Bars of `width` pixels for the largest total; empty statuses make no segment. */
export function stackedBars(rows: { label: string; tally: Tally }[], width: number): Bar[] {
  const totals = rows.map((row) => STATUSES.reduce((sum, status) => sum + (row.tally.statuses[status] ?? 0), 0));
  const scale = width / Math.max(1, ...totals);
  return rows.map((row, k) => {
    let x = 0;
    const segments: Segment[] = [];
    for (const status of STATUSES) {
      const count = row.tally.statuses[status] ?? 0;
      if (!count) continue;
      segments.push({ status, count, x, width: count * scale });
      x += count * scale;
    }
    return { label: row.label, total: totals[k], segments };
  });
}

/** "45 s", "12 min", "2 h 05 min": time active, as people say it. */
export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}
