import type { ClickHouseClient } from "@clickhouse/client";
import { DAY_MS } from "../../domain/window.js";
import { type Ctx, once, rewrittenSeqs, type Tables } from "./queries.js";
import type { DailyRow, HourlyRow } from "./rows.js";
import type { SchemaOptions } from "./schema.js";
import { ident, int, list } from "./sql.js";

// Copied rows carry seqs far above any the log hands out (JetStream counts from 1), one per day and attempt
// ("revision"): a day copied again after a crash or a change gets a fresh seq for just the rows still missing,
// so no seq is ever written twice and reads of copied data stay on the fast path (queries.ts once()).
export const COPY_SEQ_BASE = 2 ** 50;
export const MAX_REVISIONS = 1024;

export const copySeq = (day: number, revision: number): number => {
  if (!Number.isSafeInteger(day) || day < 0 || revision < 0 || revision >= MAX_REVISIONS) {
    throw new RangeError(`no copy seq for day ${day}, revision ${revision}`);
  }
  return COPY_SEQ_BASE + day * MAX_REVISIONS + revision;
};
export const dayOfSeq = (seq: number): number => Math.floor((seq - COPY_SEQ_BASE) / MAX_REVISIONS);

/** A UTC day's figures, as both stores count them. */
export interface DayFigures {
  /** fetch_hourly's sum. */
  fetches: number;
  /** fetch_daily's sum: the same fetches rolled up, checked on its own since reads use both. */
  daily: number;
  detail: number;
  retries: number;
}

/** The figures of a day in a map, added at zero when missing. */
export function dayIn(byDay: Map<number, DayFigures>, day: number): DayFigures {
  const f = byDay.get(day) ?? { fetches: 0, daily: 0, detail: 0, retries: 0 };
  byDay.set(day, f);
  return f;
}

type Num = string | number;
const HOURLY_KEY = "host, hour, status, protocol, conn_kind, address";
const DAILY_KEY = "host, day, address";
const DAILY_SUMS = "fetches, answered, own_fetches, own_misdirected, own_refused";

/** What copy-store needs of ClickHouse beyond ClickHouseStore's ledger and inserts (recordSeqs, insertAll). */
export class CopyTarget {
  private readonly progress: string;

  constructor(
    private readonly client: ClickHouseClient,
    schema: SchemaOptions,
    private readonly t: Tables,
  ) {
    // A table of the node copy-store talks to, outside the schema's migrations: it only lets a run skip days
    // finished before. Resuming through another node finds none and checks every day against the data instead.
    this.progress = `${ident(schema.database)}.copy_progress`;
  }

  private async select<T>(query: string): Promise<T[]> {
    return (await this.client.query({ query, format: "JSONEachRow" })).json<T>();
  }

  private async ctx(): Promise<Ctx> {
    const rows = await this.select<{ seq: Num }>(rewrittenSeqs(this.t));
    return { t: this.t, rewritten: rows.map((r) => Number(r.seq)) };
  }

  async prepare(): Promise<void> {
    await this.client.command({
      query: `CREATE TABLE IF NOT EXISTS ${this.progress} (day Int32, revision UInt16, fetches UInt64, detail UInt64,
        done_ms Int64) ENGINE = ReplacingMergeTree() ORDER BY (day, revision)`,
    });
  }

  /** The SQLite figures each finished day had when it was copied (latest revision), by day. */
  async finished(): Promise<Map<number, { fetches: number; detail: number }>> {
    const rows = await this.select<{ day: Num; fetches: Num; detail: Num }>(
      `SELECT day, fetches, detail FROM ${this.progress} ORDER BY day, revision DESC LIMIT 1 BY day`,
    );
    return new Map(rows.map((r) => [Number(r.day), { fetches: Number(r.fetches), detail: Number(r.detail) }]));
  }

  async markFinished(day: number, revision: number, f: DayFigures): Promise<void> {
    await this.client.insert({
      table: this.progress,
      values: [{ day, revision, fetches: f.fetches, detail: f.detail, done_ms: Date.now() }],
      format: "JSONEachRow",
    });
  }

  /** The seqs of every copy attempt, by day: the ledger has each one before any of its rows. */
  async attempts(): Promise<Map<number, number[]>> {
    const rows = await this.select<{ seq: Num }>(
      `SELECT DISTINCT seq FROM ${this.t.batch} WHERE seq >= ${int(COPY_SEQ_BASE)} ORDER BY seq`,
    );
    const out = new Map<number, number[]>();
    for (const { seq } of rows) {
      const s = Number(seq);
      const day = dayOfSeq(s);
      out.set(day, [...(out.get(day) ?? []), s]);
    }
    return out;
  }

  /** The hourly and daily rows earlier attempts stored for a day, summed over them, each row once. */
  async stored(day: number, seqs: readonly number[]): Promise<{ hourly: HourlyRow[]; daily: DailyRow[] }> {
    const c = await this.ctx();
    const hours = `hour >= ${int(day * 24)} AND hour < ${int(day * 24 + 24)} AND seq IN (${list(seqs)})`;
    const days = `day = ${int(day)} AND seq IN (${list(seqs)})`;
    const [hourly, daily] = await Promise.all([
      this.select<Record<keyof HourlyRow, Num>>(
        `SELECT ${HOURLY_KEY}, sum(count) AS count
          FROM (${once(c, this.t.hourly, `${HOURLY_KEY}, seq`, `${HOURLY_KEY}, seq, count`, hours)})
          GROUP BY ${HOURLY_KEY}`,
      ),
      this.select<Record<keyof DailyRow, Num | null>>(
        `SELECT ${DAILY_KEY}, ${DAILY_SUMS.split(", ").map((s) => `sum(${s}) AS ${s}`)},
            max(own_last_answered) AS own_last_answered
          FROM (${once(c, this.t.daily, `${DAILY_KEY}, seq`, `${DAILY_KEY}, seq, ${DAILY_SUMS}, own_last_answered`, days)})
          GROUP BY ${DAILY_KEY}`,
      ),
    ]);
    const n = (v: Num | null) => Number(v);
    return {
      hourly: hourly.map((r) => ({
        hour: n(r.hour),
        host: String(r.host),
        status: n(r.status),
        protocol: n(r.protocol),
        conn_kind: n(r.conn_kind),
        address: String(r.address),
        seq: 0,
        count: n(r.count),
      })),
      daily: daily.map((r) => ({
        day: n(r.day),
        host: String(r.host),
        address: String(r.address),
        seq: 0,
        fetches: n(r.fetches),
        answered: n(r.answered),
        own_fetches: n(r.own_fetches),
        own_misdirected: n(r.own_misdirected),
        own_refused: n(r.own_refused),
        own_last_answered: r.own_last_answered === null ? null : n(r.own_last_answered),
      })),
    };
  }

  /**
   * Every day's figures: fetches of the copied seqs only (the cluster's own traffic is not SQLite's), detail and
   * retry rows of any origin (they carry no seq), each row once; plus how many batches the log wrote.
   */
  async figures(): Promise<{ byDay: Map<number, DayFigures>; logBatches: number }> {
    const c = await this.ctx();
    const copied = `seq >= ${int(COPY_SEQ_BASE)}`;
    const day = (ms: string) => `intDiv(${ms}, ${int(DAY_MS)})`;
    const [hourly, daily, detail, retries, batches] = await Promise.all([
      this.select<{ seq: Num; n: Num }>(
        `SELECT seq, sum(count) AS n FROM (${once(c, this.t.hourly, `${HOURLY_KEY}, seq`, `${HOURLY_KEY}, seq, count`, copied)}) GROUP BY seq`,
      ),
      this.select<{ seq: Num; n: Num }>(
        `SELECT seq, sum(fetches) AS n FROM (${once(c, this.t.daily, `${DAILY_KEY}, seq`, `${DAILY_KEY}, seq, fetches`, copied)}) GROUP BY seq`,
      ),
      this.select<{ d: Num; n: Num }>(
        `SELECT ${day("time_ms")} AS d, count() AS n FROM (SELECT host, time_ms, crawler, fetch_id FROM ${this.t.detail}
          LIMIT 1 BY host, time_ms, crawler, fetch_id) GROUP BY d`,
      ),
      this.select<{ d: Num; n: Num }>(
        `SELECT ${day("time_ms")} AS d, count() AS n FROM (SELECT crawler, retry_of, fetch_id, time_ms FROM ${this.t.retry}
          LIMIT 1 BY crawler, retry_of, fetch_id) GROUP BY d`,
      ),
      this.select<{ n: Num }>(`SELECT count() AS n FROM ${this.t.batch} WHERE seq < ${int(COPY_SEQ_BASE)}`),
    ]);
    const byDay = new Map<number, DayFigures>();
    const at = (d: number) => dayIn(byDay, d);
    for (const r of hourly) at(dayOfSeq(Number(r.seq))).fetches += Number(r.n);
    for (const r of daily) at(dayOfSeq(Number(r.seq))).daily += Number(r.n);
    for (const r of detail) at(Number(r.d)).detail += Number(r.n);
    for (const r of retries) at(Number(r.d)).retries += Number(r.n);
    return { byDay, logBatches: Number(batches[0]?.n ?? 0) };
  }
}
