import type { ChangeLog, TouchedHosts } from "./changes.js";
import type { Tables } from "./queries.js";
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
export function touchedRows(rows: Rows, writeId: number, changedMs: number): ChangedHostRow[] {
  const detail = new Set(rows.fetch_detail.map((r) => r.host));
  const hosts = new Set(rows.fetch_hourly.map((r) => r.host));
  for (const host of detail) hosts.add(host);
  const row = (host: string, d: number) => ({ write_id: writeId, changed_ms: changedMs, host, detail: d });
  return [row("", 0), ...[...hosts].map((host) => row(host, detail.has(host) ? 1 : 0))];
}

type Num = string | number;

/** The change log's count and checksum, and the ids of the changes at or after `sinceMs`. */
export const changesQuery = (t: Tables, sinceMs: number): string =>
  `SELECT count() AS n, sum(write_id) AS s, max(changed_ms) AS last,
    groupArrayIf(write_id, changed_ms >= ${int(sinceMs)}) AS recent FROM ${t.changes}`;

export interface ChangeLogRow {
  n: Num;
  s: Num;
  last: Num;
  recent: Num[];
}

export function changeLogOf(row: ChangeLogRow | undefined): ChangeLog {
  return {
    count: Number(row?.n ?? 0),
    // sum() of UInt64 wraps at 2^64 on the server: compared as such.
    sum: BigInt(row?.s ?? 0),
    last: Number(row?.last ?? 0),
    recent: (row?.recent ?? []).map(Number),
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

export function touchedOf(rows: { host: string; detail: Num; writes: Num }[], limit: number): TouchedHosts {
  const out: TouchedHosts = { hosts: [], detail: [], whole: 0, more: false };
  for (const r of rows) {
    if (r.host === "") out.whole = Number(r.writes);
    else {
      out.hosts.push(r.host);
      if (Number(r.detail) === 1) out.detail.push(r.host);
    }
  }
  out.more = out.hosts.length > limit;
  return out;
}
