import { addFetches, type DailyFigures, noFigures } from "../../domain/daily-figures.js";
import type { Fetch } from "../../domain/fetch.js";
import { keepsDetail } from "../../domain/fetch.js";
import { ConnKind } from "../../domain/fetch-kind.js";
import type { LoggedBatch } from "../../domain/logged-batch.js";
import { DAY_MS, HOUR_MS } from "../../domain/window.js";
import { weekOfDay } from "./schema.js";

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

/** A batch's figures of one host, day and address, before they become a row. */
interface DailyCount extends DailyFigures {
  day: number;
  host: string;
  address: string;
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
 * The rows a group of batches adds, each table's in one array (one insert each). Counts are summed per batch,
 * never across batches: the seq in their keys is what lets a batch delivered again be counted once.
 */
export function toRows(batches: readonly LoggedBatch[]): Rows {
  const rows: Rows = { fetch_hourly: [], fetch_daily: [], fetch_detail: [], fetch_retry: [] };
  for (const b of batches) {
    if (!Number.isSafeInteger(b.seq) || b.seq < 0) throw new TypeError(`batch seq is not a safe integer: ${b.seq}`);
    const hourly = new Map<string, HourlyRow>();
    const daily = new Map<string, DailyCount>();
    for (const f of b.fetches) {
      const hour = Math.floor(f.timeMs / HOUR_MS);
      countHourly(hourly, b.seq, hour, f);
      countDaily(daily, hour, f);
      if (!keepsDetail(f)) continue;
      rows.fetch_detail.push(detailRow(f));
      if (f.retryOf !== "") {
        rows.fetch_retry.push({
          crawler: f.crawler,
          retry_of: f.retryOf,
          fetch_id: f.fetchId,
          time_ms: f.timeMs,
          status: f.status,
        });
      }
    }
    for (const r of hourly.values()) rows.fetch_hourly.push(r);
    for (const d of daily.values()) rows.fetch_daily.push(dailyRow(b.seq, d));
  }
  return rows;
}

function countHourly(rows: Map<string, HourlyRow>, seq: number, hour: number, f: Fetch): void {
  const key = `${hour} ${f.status} ${f.protocol} ${f.kind} ${f.host} ${f.address}`;
  const r = rows.get(key);
  if (r !== undefined) r.count++;
  else {
    rows.set(key, {
      hour,
      host: f.host,
      status: f.status,
      protocol: f.protocol,
      conn_kind: f.kind,
      address: f.address,
      seq,
      count: 1,
    });
  }
}

function countDaily(days: Map<string, DailyCount>, hour: number, f: Fetch): void {
  const day = Math.floor(hour / 24);
  const key = `${day} ${f.host} ${f.address}`;
  let d = days.get(key);
  if (d === undefined) {
    d = { day, host: f.host, address: f.address, ...noFigures() };
    days.set(key, d);
  }
  addFetches(d, hour, f.kind === ConnKind.OWN, f.status, 1);
}

const dailyRow = (seq: number, d: DailyCount): DailyRow => ({
  day: d.day,
  host: d.host,
  address: d.address,
  seq,
  fetches: d.fetches,
  answered: d.answered,
  own_fetches: d.ownFetches,
  own_misdirected: d.ownMisdirected,
  own_refused: d.ownRefused,
  own_last_answered: d.ownLastAnswered,
});

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
  fetch_detail: (r: DetailRow) => weekOfDay(Math.floor(r.time_ms / DAY_MS)),
  fetch_retry: (r: RetryRow) => weekOfDay(Math.floor(r.time_ms / DAY_MS)),
};
