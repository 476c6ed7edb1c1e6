import type { DayFigures } from "../store/clickhouse/copy.js";

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Compares the figures day by day; prints the result; the exit code. */
export function check(
  want: Map<number, DayFigures>,
  got: { byDay: Map<number, DayFigures>; logBatches: number },
  io: Io,
): number {
  // Detail rows have no seq: on a cluster that has stored traffic of its own, SQLite's are a part of them.
  const atLeast = got.logBatches > 0;
  const problems: string[] = [];
  const total = { fetches: 0, detail: 0 };
  const zero: DayFigures = { fetches: 0, daily: 0, detail: 0, retries: 0 };
  for (const day of [...new Set([...want.keys(), ...got.byDay.keys()])].sort((a, b) => a - b)) {
    const w = want.get(day) ?? zero;
    const g = got.byDay.get(day) ?? zero;
    total.fetches += w.fetches;
    total.detail += w.detail;
    for (const k of ["fetches", "daily", "detail", "retries"] as const) {
      const bad = atLeast && (k === "detail" || k === "retries") ? g[k] < w[k] : g[k] !== w[k];
      if (bad) problems.push(`${dateOf(day)}: ${LABEL[k]}: SQLite ${n(w[k])}, ClickHouse ${n(g[k])}`);
    }
  }
  if (problems.length > 0) {
    io.err.write(
      `copy-store: count check FAILED, the stores differ on ${problems.length} figures:\n  ${problems.join("\n  ")}\n` +
        "Was the service still writing to the SQLite file? Stop it and run copy-store again: days that changed " +
        "are copied again, without counting anything twice.\n",
    );
    return 1;
  }
  const of = atLeast ? " (detail rows: the cluster also holds traffic of its own)" : "";
  io.out.write(
    `checked: ${n(total.fetches)} fetches, ${n(total.detail)} detail rows and the totals of each of ${want.size} ` +
      `days are the same in SQLite and ClickHouse${of}\n`,
  );
  return 0;
}

const LABEL = { fetches: "fetches", daily: "daily fetches", detail: "detail rows", retries: "retries" };
export const n = (x: number) => x.toLocaleString("en-US");
export const dateOf = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);
