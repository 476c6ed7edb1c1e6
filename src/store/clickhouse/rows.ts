import type { Fetch } from "../../domain/fetch.js";
import { keepsDetail } from "../../domain/fetch.js";
import { weekOfDay, weekOfTime } from "./schema.js";

export interface HourlyRow {
  hour: number;
  host: string;
  status: number;
  protocol: number;
  conn_kind: number;
  address: string;
  seq: number;
  count: number;
}

export interface DailyRow {
  day: number;
  host: string;
  address: string;
  seq: number;
  fetches: number;
  answered: number;
  own_fetches: number;
  own_misdirected: number;
  own_refused: number;
  own_last_answered: number | null;
}

export interface DetailRow {
  host: string;
  time_ms: number;
  crawler: string;
  fetch_id: string;
  status: number;
  protocol: number;
  conn_kind: number;
  artifact: number;
  connection_id: string;
  sni: string | null;
  request_index: number | null;
  address: string;
  cert_covers: number | null;
  origin_frame: number | null;
  via_alt_svc: number;
  retry_of: string;
}

export interface RetryRow {
  crawler: string;
  retry_of: string;
  fetch_id: string;
  time_ms: number;
  status: number;
}

export interface Rows {
  fetch_hourly: HourlyRow[];
  fetch_daily: DailyRow[];
  fetch_detail: DetailRow[];
  fetch_retry: RetryRow[];
}

const bool = (b: boolean | undefined): number | null => (b === undefined ? null : b ? 1 : 0);

/**
 * The detail and retry rows of a batch's fetches. Its traffic goes as fetch_raw rows (raw.ts), which the server
 * rolls up into fetch_hourly and fetch_daily per batch (rollup.ts): counts are never summed across batches, since
 * the seq in their keys is what lets a batch delivered again be counted once. copy-store fills fetch_hourly and
 * fetch_daily from a SQLite store's own rows.
 */
export function detailRows(fetches: readonly Fetch[]): { detail: DetailRow[]; retry: RetryRow[] } {
  const detail: DetailRow[] = [];
  const retry: RetryRow[] = [];
  for (const f of fetches) {
    if (!keepsDetail(f)) continue;
    detail.push(detailRow(f));
    if (f.retryOf !== "") {
      retry.push({ crawler: f.crawler, retry_of: f.retryOf, fetch_id: f.fetchId, time_ms: f.timeMs, status: f.status });
    }
  }
  return { detail, retry };
}

function detailRow(f: Fetch): DetailRow {
  return {
    host: f.host,
    time_ms: f.timeMs,
    crawler: f.crawler,
    fetch_id: f.fetchId,
    status: f.status,
    protocol: f.protocol,
    conn_kind: f.kind,
    artifact: f.artifact,
    connection_id: f.connectionId,
    sni: f.sni ?? null,
    request_index: f.requestIndex ?? null,
    address: f.address,
    cert_covers: bool(f.certCovers),
    origin_frame: bool(f.originFrame),
    via_alt_svc: f.viaAltSvc ? 1 : 0,
    retry_of: f.retryOf,
  };
}

/** The partition (UTC week) of a row, per table (the schema's PARTITION BY, for splitting very wide inserts). */
export const partitionOf = {
  fetch_hourly: (r: HourlyRow) => weekOfDay(Math.floor(r.hour / 24)),
  fetch_daily: (r: DailyRow) => weekOfDay(r.day),
  fetch_detail: (r: DetailRow) => weekOfTime(r.time_ms),
  fetch_retry: (r: RetryRow) => weekOfTime(r.time_ms),
};
