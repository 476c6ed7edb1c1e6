import type { ChangeLog, TouchedHosts } from "./changes.js";
import type { Tables } from "./queries.js";
import type { PreparedBatch } from "./raw.js";
import type { Rows } from "./rows.js";
import { int, list } from "./sql.js";

export interface ChangedHostRow {
  write_id: number;
  changed_ms: number;
  host: string;
  detail: number;
}

/**
 * What a write touched, as store_changed_hosts rows: every host with rows (detail = 1 for those that got a 421, a
 * refusal or a retry, which may make them candidates), and the row with host "" that says the list is whole.
 */
export function changedHostRows(
  rows: Rows,
  raw: readonly PreparedBatch[],
  writeId: number,
  changedMs: number,
): ChangedHostRow[] {
  const detail = new Set(rows.fetch_detail.map((r) => r.host));
  const hosts = new Set(rows.fetch_hourly.map((r) => r.host));
  for (const b of raw) for (const host of b.hosts) hosts.add(host);
  for (const host of detail) hosts.add(host);
  const row = (host: string, d: number) => ({ write_id: writeId, changed_ms: changedMs, host, detail: d });
  return [row("", 0), ...[...hosts].map((host) => row(host, detail.has(host) ? 1 : 0))];
}

export interface ChangedRetryRow {
  write_id: number;
  changed_ms: number;
  crawler: string;
  retry_of: string;
}

/** The originals a write's retries name: their hosts' facts change too (store_changed_retries). */
export function changedRetryRows(rows: Rows, writeId: number, changedMs: number): ChangedRetryRow[] {
  return rows.fetch_retry.map((r) => ({
    write_id: writeId,
    changed_ms: changedMs,
    crawler: r.crawler,
    retry_of: r.retry_of,
  }));
}

type Num = string | number;

/**
 * The change log's count and checksum, from its daily totals: a row a day (and shard), however many changes. Read
 * apart from the recent changes: a write seen by one read and not yet by the other makes them disagree, and the
 * query node then drops everything, which is correct (changes.ts).
 */
export const changeTotalsQuery = (t: Tables): string =>
  `SELECT sum(changes) AS n, sum(checksum) AS s FROM ${t.changesDaily}`;

/** The ids of the changes at or after `sinceMs` (a range of the table's primary key), and the latest time, 0 for none. */
export const recentChangesQuery = (t: Tables, sinceMs: number): string =>
  `SELECT max(changed_ms) AS last, groupArray(write_id) AS recent FROM ${t.changes}
    WHERE changed_ms >= ${int(sinceMs)}`;

export interface ChangeTotalsRow {
  n: Num;
  s: Num;
}

export interface RecentChangesRow {
  last: Num;
  recent: Num[];
}

export function changeLogOf(totals: ChangeTotalsRow | undefined, recent: RecentChangesRow | undefined): ChangeLog {
  return {
    count: Number(totals?.n ?? 0),
    // sum() of UInt64 wraps at 2^64 on the server (in the totals' merges too): compared as such.
    sum: BigInt(totals?.s ?? 0),
    last: Number(recent?.last ?? 0),
    recent: (recent?.recent ?? []).map(Number),
  };
}

/**
 * The hosts the changes `ids` (all at or after `sinceMs`) touched, up to `limit` and one more to tell that there
 * were more; `whole` counts the changes that listed them all (host "", first in order).
 */
export const touchedQuery = (t: Tables, ids: readonly number[], sinceMs: number, limit: number): string =>
  `SELECT host, max(detail) AS detail, uniqExact(write_id) AS writes FROM ${t.changedHosts}
    WHERE changed_ms >= ${int(sinceMs)} AND write_id IN (${list(ids)}) GROUP BY host ORDER BY host
    LIMIT ${int(limit + 2)}`;

/**
 * The hosts of the originals that the changes' retries name, as stored now. An original not stored yet is not
 * missed: its own write's change, recorded after its rows, lists its host and comes later.
 */
export const originalsQuery = (t: Tables, ids: readonly number[], sinceMs: number): string =>
  `SELECT DISTINCT host FROM ${t.detail} WHERE (crawler, fetch_id) ${t.in} (SELECT crawler, retry_of
    FROM ${t.changedRetries} WHERE changed_ms >= ${int(sinceMs)} AND write_id IN (${list(ids)}))`;

export interface TouchedRow {
  host: string;
  detail: Num;
  writes: Num;
}

export function touchedOf(rows: TouchedRow[], originals: { host: string }[], limit: number): TouchedHosts {
  const out: TouchedHosts = { hosts: [], detail: [], whole: 0, more: false };
  const originalHosts = originals.map((r) => r.host);
  const detail = new Set(originalHosts);
  for (const r of rows) {
    if (r.host === "") out.whole = Number(r.writes);
    else {
      out.hosts.push(r.host);
      if (Number(r.detail) === 1) detail.add(r.host);
    }
  }
  const listed = new Set(out.hosts);
  for (const host of originalHosts) {
    if (!listed.has(host)) out.hosts.push(host);
  }
  out.detail = [...detail];
  out.more = out.hosts.length > limit;
  return out;
}
