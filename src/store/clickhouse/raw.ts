import type { Fetch } from "../../domain/fetch.js";
import type { LoggedBatch } from "../../domain/logged-batch.js";
import { type DetailRow, detailRows, type RetryRow } from "./rows.js";
import { weekOfTime } from "./schema.js";

/**
 * A batch as the ClickHouse store needs it (BatchStore.prepare): its fetches already as fetch_raw lines
 * (TabSeparated, rollup.ts has the columns), one piece per partition week; its few detail and retry rows; and its
 * hosts. Small, plain and cheap to copy, so that it can be made on the thread that validated the batch and sent
 * to the writer's (cluster-ingest-worker.ts), and a writer holding 100,000 records' worth keeps a few hundred
 * objects, not a Fetch each.
 */
export interface PreparedBatch {
  seq: number;
  parts: RawPart[];
  detail: DetailRow[];
  retry: RetryRow[];
  /** Each host it has fetches of, once. */
  hosts: string[];
}

interface RawPart {
  week: number;
  lines: Uint8Array;
  rows: number;
}

export function prepareBatch(b: LoggedBatch): PreparedBatch {
  // The seq goes into every key as a UInt64 and into the TabSeparated lines as text.
  if (!Number.isSafeInteger(b.seq) || b.seq < 0) throw new TypeError(`batch seq is not a safe integer: ${b.seq}`);
  const { detail, retry } = detailRows(b.fetches);
  const hosts = new Set<string>();
  for (const f of b.fetches) hosts.add(f.host);
  const parts = byWeek(b.fetches).map(([week, fetches]) => ({
    week,
    lines: Buffer.from(lines(b.seq, fetches)),
    rows: fetches.length,
  }));
  return { seq: b.seq, parts, detail, retry, hosts: [...hosts] };
}

/**
 * The batches' lines in pieces, one insert each. A piece holds whole (seq, week) parts, so that the server's views
 * see all of a key's fetches in one block; at most `maxWeeks` weeks, which current servers require of an insert
 * (max_partitions_per_insert_block); and about `maxRows` lines.
 */
export function rawPieces(batches: readonly PreparedBatch[], maxWeeks: number, maxRows = 100_000): Buffer[] {
  const pieces: Buffer[] = [];
  let piece: Uint8Array[] = [];
  let rows = 0;
  let weeks = new Set<number>();
  for (const part of batches.flatMap((b) => b.parts)) {
    const fresh = !weeks.has(part.week);
    if (rows > 0 && (rows + part.rows > maxRows || (fresh && weeks.size >= maxWeeks))) {
      pieces.push(Buffer.concat(piece));
      piece = [];
      rows = 0;
      weeks = new Set();
    }
    weeks.add(part.week);
    piece.push(part.lines);
    rows += part.rows;
  }
  if (rows > 0) pieces.push(Buffer.concat(piece));
  return pieces;
}

/** The fetches by partition week: one entry when they are all of one week (nearly always). */
function byWeek(fetches: readonly Fetch[]): [number, readonly Fetch[]][] {
  const first = fetches[0];
  if (first === undefined) return [];
  const week = weekOfTime(first.timeMs);
  if (fetches.every((f) => weekOfTime(f.timeMs) === week)) return [[week, fetches]];
  const split = new Map<number, Fetch[]>();
  for (const f of fetches) {
    const w = weekOfTime(f.timeMs);
    const list = split.get(w);
    if (list === undefined) split.set(w, [f]);
    else list.push(f);
  }
  return [...split];
}

function lines(seq: number, fetches: readonly Fetch[]): string {
  const s = `${seq}\t`;
  let out = "";
  for (const f of fetches) {
    out += `${s}${f.timeMs}\t${tsv(f.host)}\t${f.status}\t${f.protocol}\t${f.kind}\t${tsv(f.address)}\n`;
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
