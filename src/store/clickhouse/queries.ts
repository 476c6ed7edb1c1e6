import type { Window } from "../../domain/diagnosis.js";
import { MISDIRECTED, REFUSAL_STATUSES } from "../../domain/fetch.js";
import { ConnKind } from "../../domain/fetch-kind.js";
import { HOUR_MS } from "../../domain/window.js";
import { int, list, str } from "./sql.js";

/** Table names, built once per store from the schema options. */
export interface Tables {
  hourly: string;
  daily: string;
  detail: string;
  retry: string;
  batch: string;
  rewritten: string;
  changes: string;
  changesDaily: string;
  changedHosts: string;
  changedRetries: string;
  /** "GLOBAL IN" over Distributed tables (the subquery runs once, not once per shard), else "IN". */
  in: string;
}

/** What a read needs: the tables, and the seqs written more than once (whose rows may be there twice). */
export interface Ctx {
  t: Tables;
  rewritten: readonly number[];
}

/** Which hosts a query covers: one, some, every host with a 421 or a refusal in the window, or all. */
export type HostFilter = { host: string } | { hosts: readonly string[] } | "detail" | "all";

/** The condition on host of a filter that names its hosts. */
const named = (hosts: { host: string } | { hosts: readonly string[] }): string =>
  "host" in hosts ? `host = ${str(hosts.host)}` : `host IN (${hosts.hosts.map(str).join(", ")})`;

// 421s and the statuses a refusal can have; isRefused() then picks the refusals among the latter (as SQLite).
const KEPT_STATUS = `status IN (${[MISDIRECTED, ...REFUSAL_STATUSES].map(int).join(", ")})`;
const REFUSALS = [...REFUSAL_STATUSES].map(int).join(", ");
const OWN = int(ConnKind.OWN);
const M = int(MISDIRECTED);
// Past this many, the rewritten seqs are read by a subquery rather than listed (max_query_size is 256 KiB).
const MAX_LISTED = 5000;

const timeIn = (w: Window) => `time_ms >= ${int(w.startMs)} AND time_ms < ${int(w.endMs)}`;

/**
 * The rows of a per-batch table, each (key, seq) once. FINAL (or LIMIT 1 BY on every row) cost 3-8x a plain
 * read on 18.16 (measured at 1M fetches), yet only batches the log delivered twice can have two copies: rows of
 * the other batches are read as they are, and only those of the seqs fetch_rewritten lists are deduplicated.
 */
export function once(c: Ctx, table: string, key: string, columns: string, where: string): string {
  if (c.rewritten.length === 0) return `SELECT ${columns} FROM ${table} WHERE ${where}`;
  // GLOBAL is for subqueries over Distributed tables; a literal list is plain IN everywhere.
  const listed = c.rewritten.length <= MAX_LISTED;
  const seqs = listed ? list(c.rewritten) : `SELECT seq FROM ${c.t.rewritten}`;
  const isIn = listed ? "IN" : c.t.in;
  const notIn = listed || c.t.in === "IN" ? "NOT IN" : "GLOBAL NOT IN";
  return `SELECT ${columns} FROM ${table} WHERE ${where} AND seq ${notIn} (${seqs})
    UNION ALL
    SELECT ${columns} FROM ${table} WHERE ${where} AND seq ${isIn} (${seqs}) LIMIT 1 BY ${key}`;
}

const HOURLY_KEY = "host, hour, status, protocol, conn_kind, address, seq";
const DAILY_KEY = "host, day, address, seq";
const DAILY_COLUMNS = `${DAILY_KEY}, fetches, answered, own_fetches, own_misdirected, own_refused, own_last_answered`;
const hourlyOnce = (c: Ctx, where: string) => once(c, c.t.hourly, HOURLY_KEY, `${HOURLY_KEY}, count`, where);

function hostWhere(t: Tables, hosts: HostFilter, w: Window): string {
  if (hosts === "all") return "1";
  if (hosts === "detail") return `host ${t.in} (SELECT host FROM ${t.detail} WHERE ${timeIn(w)} AND ${KEPT_STATUS})`;
  return named(hosts);
}

// Detail rows are few (421s, refusals, retries): LIMIT 1 BY on all of them costs little.
const DETAIL_KEY = "host, time_ms, crawler, fetch_id";

/** The detail rows that can be 421s or refusals, with their host; in key order. */
export function detailRows(c: Ctx, hosts: HostFilter, w: Window): string {
  const host = typeof hosts === "object" ? ` AND ${named(hosts)}` : "";
  return `SELECT host, time_ms, status, crawler, fetch_id, connection_id, sni, protocol, conn_kind, artifact, address,
      origin_frame
    FROM ${c.t.detail} WHERE ${timeIn(w)} AND ${KEPT_STATUS}${host}
    ORDER BY ${DETAIL_KEY} LIMIT 1 BY ${DETAIL_KEY}`;
}

/** The statuses of the retries of those rows, by (crawler, original fetch_id), in time order. */
export function retryRows(c: Ctx, hosts: HostFilter, w: Window): string {
  const host = typeof hosts === "object" ? ` AND ${named(hosts)}` : "";
  const originals = `FROM ${c.t.detail} WHERE ${timeIn(w)} AND ${KEPT_STATUS}${host}`;
  // For one host, PREWHERE on retry_of alone reads the other columns only for the few rows it keeps (9 against
  // 14 ms for a host with 5 retries on 18.16 at 10M records); for every host of a window it cost more (0.8 s
  // against 0.6 for 30 days), as most granules then hold a wanted row.
  const prewhere = typeof hosts === "object" ? `PREWHERE retry_of ${c.t.in} (SELECT fetch_id ${originals})` : "";
  return `SELECT crawler, retry_of, status FROM ${c.t.retry} ${prewhere}
    WHERE (crawler, retry_of) ${c.t.in} (SELECT crawler, fetch_id ${originals})
    ORDER BY crawler, retry_of, time_ms, fetch_id LIMIT 1 BY crawler, retry_of, fetch_id`;
}

/** Per host and address: the whole days' figures from fetch_daily. */
export function dailyTraffic(c: Ctx, hosts: HostFilter, w: Window, [from, to]: [number, number]): string {
  const where = `day >= ${int(from)} AND day < ${int(to)} AND ${hostWhere(c.t, hosts, w)}`;
  return `SELECT host, address, sum(fetches) AS fetches, sum(answered) AS answered, sum(own_fetches) AS own_fetches,
      sum(own_misdirected) AS own_misdirected, sum(own_refused) AS own_refused,
      max(own_last_answered) AS own_last_answered, toUInt64(1) AS own_answered_rows
    FROM (${once(c, c.t.daily, DAILY_KEY, DAILY_COLUMNS, where)}) GROUP BY host, address`;
}

/**
 * Per host and address: the partial days' figures, from fetch_hourly. Its columns are dailyTraffic's, of the same
 * types, so that the two go in one query (UNION ALL): one round trip and one query's overhead less per host.
 */
export function hourlyTraffic(c: Ctx, hosts: HostFilter, w: Window, ranges: [number, number][]): string {
  const hours = ranges.map(([a, b]) => `(hour >= ${int(a)} AND hour < ${int(b)})`).join(" OR ");
  return `SELECT host, address, sum(count) AS fetches, sumIf(count, status != ${M}) AS answered,
      sumIf(count, conn_kind = ${OWN}) AS own_fetches,
      sumIf(count, conn_kind = ${OWN} AND status = ${M}) AS own_misdirected,
      sumIf(count, conn_kind = ${OWN} AND status IN (${REFUSALS})) AS own_refused,
      toNullable(maxIf(hour, conn_kind = ${OWN} AND status != ${M})) AS own_last_answered,
      countIf(conn_kind = ${OWN} AND status != ${M}) AS own_answered_rows
    FROM (${hourlyOnce(c, `(${hours}) AND ${hostWhere(c.t, hosts, w)}`)}) GROUP BY host, address`;
}

export function hourlyStats(c: Ctx, host: string, w: Window): string {
  const where = `host = ${str(host)} AND hour >= ${int(w.startMs / HOUR_MS)} AND hour < ${int(w.endMs / HOUR_MS)}`;
  return `SELECT hour, status, protocol, sum(count) AS count FROM (${hourlyOnce(c, where)})
    GROUP BY hour, status, protocol ORDER BY hour, status, protocol`;
}

export function alertRows(c: Ctx, w: Window): string {
  return `SELECT crawler, artifact, host, count() AS count, min(time_ms) AS first_ms, max(time_ms) AS last_ms
    FROM (SELECT ${DETAIL_KEY}, artifact FROM ${c.t.detail} WHERE ${timeIn(w)} AND status = ${M} AND artifact != 0
      LIMIT 1 BY ${DETAIL_KEY})
    GROUP BY crawler, artifact, host ORDER BY crawler, artifact, host`;
}

/** Fetches counted and detail rows kept, over everything stored. */
export const totalFetches = (c: Ctx) => `SELECT sum(count) AS n FROM (${hourlyOnce(c, "1")})`;
export const totalDetail = (c: Ctx) =>
  `SELECT count() AS n FROM (SELECT ${DETAIL_KEY} FROM ${c.t.detail} LIMIT 1 BY ${DETAIL_KEY})`;

export const hostExists = (t: Tables, host: string): string =>
  `SELECT 1 AS found FROM ${t.hourly} WHERE host = ${str(host)} LIMIT 1`;

export const rewrittenSeqs = (t: Tables): string => `SELECT DISTINCT seq FROM ${t.rewritten}`;
