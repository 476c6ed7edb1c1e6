import type { LoggedBatch } from "../../domain/logged-batch.js";
import { weekOfTime } from "./schema.js";

/**
 * fetch_raw's rows, as TabSeparated text (rollup.ts has the columns): one line a fetch, built straight from the
 * fetches, with no object per row and no JSON. Each piece holds whole (seq, week) parts, so that the server's
 * views see all of a key's fetches in one block; and at most `maxWeeks` weeks, which current servers require of
 * an insert (max_partitions_per_insert_block), and about `maxRows` lines.
 */
export function rawPieces(batches: readonly LoggedBatch[], maxWeeks: number, maxRows = 100_000): string[] {
  const pieces: string[] = [];
  let text = "";
  let rows = 0;
  let weeks = new Set<number>();
  for (const part of byWeek(batches)) {
    const fresh = !weeks.has(part.week);
    if (rows > 0 && (rows + part.fetches.length > maxRows || (fresh && weeks.size >= maxWeeks))) {
      pieces.push(text);
      text = "";
      rows = 0;
      weeks = new Set();
    }
    weeks.add(part.week);
    text += lines(part);
    rows += part.fetches.length;
  }
  if (rows > 0) pieces.push(text);
  return pieces;
}

interface Part extends LoggedBatch {
  week: number;
}

/** Each batch as it is when its fetches are all of one week (nearly always), else split by week. */
function* byWeek(batches: readonly LoggedBatch[]): Generator<Part> {
  for (const b of batches) {
    const first = b.fetches[0];
    if (first === undefined) continue;
    const week = weekOfTime(first.timeMs);
    if (b.fetches.every((f) => weekOfTime(f.timeMs) === week)) {
      yield { ...b, week };
      continue;
    }
    const split = new Map<number, LoggedBatch["fetches"][number][]>();
    for (const f of b.fetches) {
      const w = weekOfTime(f.timeMs);
      const list = split.get(w);
      if (list === undefined) split.set(w, [f]);
      else list.push(f);
    }
    for (const [w, fetches] of split) yield { seq: b.seq, fetches, week: w };
  }
}

function lines(b: LoggedBatch): string {
  const seq = `${b.seq}\t`;
  let out = "";
  for (const f of b.fetches) {
    out += `${seq}${f.timeMs}\t${tsv(f.host)}\t${f.status}\t${f.protocol}\t${f.kind}\t${tsv(f.address)}\n`;
  }
  return out;
}

// Validation leaves hosts and addresses without these, but the format must never depend on that.
const SPECIAL = /[\t\n\\]/;
const ESCAPES: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\\": "\\\\" };

/** A TabSeparated field: tab, newline and backslash escaped. */
export function tsv(s: string): string {
  return SPECIAL.test(s) ? s.replace(/[\t\n\\]/g, (c) => ESCAPES[c] ?? c) : s;
}
