import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Fetch } from "../src/domain/fetch.js";
import type { LoggedBatch } from "../src/domain/logged-batch.js";
import { DAY_MS } from "../src/domain/window.js";
import { rawPieces as piecesOf, prepareBatch, tsv } from "../src/store/clickhouse/raw.js";
import { weekOfDay } from "../src/store/clickhouse/schema.js";

// Monday 2026-06-01 00:00 UTC: the first moment of a partition week.
const MONDAY = Date.parse("2026-06-01T00:00:00Z");

const fetch = (timeMs: number, host = "www.example.org"): Fetch =>
  ({ timeMs, host, status: 421, protocol: 2, kind: 1, address: "192.0.2.1" }) as Fetch;

/** The pieces of batches as the log holds them, as text. */
const rawPieces = (batches: LoggedBatch[], maxWeeks: number, maxRows?: number): string[] =>
  piecesOf(batches.map(prepareBatch), maxWeeks, maxRows).map(String);

/** Each line of the pieces as [seq, week], in order. */
const partsOf = (pieces: string[]) =>
  pieces.map((p) =>
    p
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const [seq, time] = l.split("\t");
        return [Number(seq), weekOfDay(Math.floor(Number(time) / DAY_MS))] as const;
      }),
  );

test("a group within one week is one piece, a line per fetch with the seq first", () => {
  const batches: LoggedBatch[] = [
    { seq: 7, fetches: [fetch(MONDAY), fetch(MONDAY + 3_600_000, "api.example.org")] },
    { seq: 9, fetches: [fetch(MONDAY + 6 * DAY_MS)] },
  ];
  const pieces = rawPieces(batches, 100);
  assert.is(pieces.length, 1);
  assert.equal(pieces[0]?.split("\n"), [
    `7\t${MONDAY}\twww.example.org\t421\t2\t1\t192.0.2.1`,
    `7\t${MONDAY + 3_600_000}\tapi.example.org\t421\t2\t1\t192.0.2.1`,
    `9\t${MONDAY + 6 * DAY_MS}\twww.example.org\t421\t2\t1\t192.0.2.1`,
    "",
  ]);
});

test("a backfill over more weeks than an insert may hold is cut between weeks, each (seq, week) in one piece", () => {
  // Batch 1 covers weeks 0-4 twice over, batch 2 weeks 3-6: with 3 weeks a piece, no seq's week is ever split.
  const weeks = (seq: number, from: number, to: number): LoggedBatch => ({
    seq,
    fetches: [from, to].flatMap(() =>
      Array.from({ length: to - from + 1 }, (_, i) => fetch(MONDAY + (from + i) * 7 * DAY_MS + i)),
    ),
  });
  const pieces = rawPieces([weeks(1, 0, 4), weeks(2, 3, 6)], 3);
  const parts = partsOf(pieces);
  assert.equal(parts.flat().length, 10 + 8, "every fetch once");
  for (const p of parts) assert.ok(new Set(p.map(([, w]) => w)).size <= 3, "at most 3 weeks a piece");
  const where = new Map<string, number>();
  parts.forEach((p, i) => {
    for (const [seq, w] of p) {
      const key = `${seq} ${w}`;
      assert.ok((where.get(key) ?? i) === i, `seq ${seq}, week ${w} in one piece`);
      where.set(key, i);
    }
  });
  assert.is(where.size, 5 + 4);
});

test("pieces close at about maxRows lines, between batches, never inside one", () => {
  const batch = (seq: number, n: number): LoggedBatch => ({
    seq,
    fetches: Array.from({ length: n }, (_, i) => fetch(MONDAY + i)),
  });
  const parts = partsOf(rawPieces([batch(1, 4), batch(2, 4), batch(3, 7), batch(4, 2)], 100, 8));
  assert.equal(
    parts.map((p) => [...new Set(p.map(([seq]) => seq))]),
    [[1, 2], [3], [4]],
  );
  assert.equal(rawPieces([{ seq: 1, fetches: [] }], 100), [], "no fetches, no insert");
});

test("a field's tab, newline and backslash are escaped as TabSeparated reads them", () => {
  assert.is(tsv("www.example.org"), "www.example.org");
  assert.is(tsv("a\tb\nc\\d"), "a\\tb\\nc\\\\d");
  const [piece] = rawPieces([{ seq: 1, fetches: [fetch(MONDAY, "x\ty")] }], 100);
  assert.is(piece?.split("\t").length, 7, "seven fields: the host's tab is escaped");
});

test.run();
