import type { HostFacts, Misdirected, OwnTraffic, Window } from "../domain/diagnosis.js";
import type { Artifact, ConnKind } from "../domain/fetch-kind.js";
import { ConnKind as K } from "../domain/fetch-kind.js";
import { MISDIRECTED } from "../domain/fetch.js";
import { HOUR_MS } from "../domain/window.js";
import type { AlertRow, HostMisdirected, HourlyRow, ReadStore } from "../domain/read-store.js";
import type { Db } from "./db.js";

interface DetailRow {
  host_id: number;
  time_ms: number;
  crawler: string;
  fetch_id: string;
  connection_id: string;
  sni: string | null;
  protocol: number;
  conn_kind: number;
  artifact: number;
  address: string;
  origin_frame: number | null;
  retry_statuses: string | null;
}

const hours = (w: Window): [number, number] => [w.startMs / HOUR_MS, w.endMs / HOUR_MS];

// Every read touches aggregates, or 421/retry detail through an index: never the ordinary traffic row by row.
const DETAIL_COLUMNS = `d.host_id, d.time_ms, c.name AS crawler, d.fetch_id, d.connection_id, d.sni, d.protocol, d.conn_kind,
  d.artifact, a.addr AS address, d.origin_frame,
  (SELECT group_concat(r.status) FROM fetch_detail r WHERE r.crawler_id = d.crawler_id AND r.retry_of = d.fetch_id)
    AS retry_statuses
  FROM fetch_detail d JOIN crawlers c ON c.id = d.crawler_id JOIN addresses a ON a.id = d.address_id`;

/** Read-side queries. Works on any connection to the database, so it can run beside the writer. */
export class Reader implements ReadStore {
  private readonly hostId;
  private readonly hostName;
  private readonly hourly;
  private readonly fetchCount;
  private readonly own;
  private readonly lastOwnAnswered;
  private readonly hostDetail;
  private readonly windowDetail;
  private readonly alerts;
  private readonly hostsInWindow;

  constructor(db: Db) {
    this.hostId = db.prepare<[string], number>("SELECT id FROM hosts WHERE name = ?").pluck();
    this.hostName = db.prepare<[number], string>("SELECT name FROM hosts WHERE id = ?").pluck();
    this.hourly = db.prepare<[number, number, number], HourlyRow>(
      `SELECT hour, status, protocol, SUM(count) AS count FROM fetch_hourly
       WHERE host_id = ? AND hour >= ? AND hour < ? GROUP BY hour, status, protocol ORDER BY hour`,
    );
    this.fetchCount = db
      .prepare<[number, number, number], number>(
        "SELECT COALESCE(SUM(count), 0) FROM fetch_hourly WHERE host_id = ? AND hour >= ? AND hour < ?",
      )
      .pluck();
    this.own = db.prepare<[number, number, number, number, number], { address: string; fetches: number; misdirected: number }>(
      `SELECT a.addr AS address, SUM(h.count) AS fetches, SUM(CASE WHEN h.status = ? THEN h.count ELSE 0 END) AS misdirected
       FROM fetch_hourly h JOIN addresses a ON a.id = h.address_id
       WHERE h.host_id = ? AND h.hour >= ? AND h.hour < ? AND h.conn_kind = ? GROUP BY h.address_id`,
    );
    this.lastOwnAnswered = db
      .prepare<[number, number, number, number, number], number | null>(
        `SELECT MAX(hour) FROM fetch_hourly
         WHERE host_id = ? AND hour >= ? AND hour < ? AND conn_kind = ? AND status != ?`,
      )
      .pluck();
    this.hostDetail = db.prepare<[number, number, number, number], DetailRow>(
      `SELECT ${DETAIL_COLUMNS} WHERE d.host_id = ? AND d.time_ms >= ? AND d.time_ms < ? AND d.status = ?`,
    );
    this.windowDetail = db.prepare<[number, number, number], DetailRow>(
      `SELECT ${DETAIL_COLUMNS} WHERE d.time_ms >= ? AND d.time_ms < ? AND d.status = ? ORDER BY d.host_id`,
    );
    this.hostsInWindow = db
      .prepare<[number, number], number>("SELECT DISTINCT host_id FROM fetch_hourly WHERE hour >= ? AND hour < ?")
      .pluck();
    this.alerts = db.prepare<[number, number, number], AlertRow>(
      `SELECT c.name AS crawler, d.artifact, h.name AS host, COUNT(*) AS count, MIN(d.time_ms) AS first_ms,
         MAX(d.time_ms) AS last_ms
       FROM fetch_detail d JOIN crawlers c ON c.id = d.crawler_id JOIN hosts h ON h.id = d.host_id
       WHERE d.time_ms >= ? AND d.time_ms < ? AND d.status = ? AND d.artifact != 0
       GROUP BY d.crawler_id, d.artifact, d.host_id`,
    );
  }

  findHost(name: string): number | undefined {
    return this.hostId.get(name);
  }

  hourlyStats(hostId: number, w: Window): HourlyRow[] {
    return this.hourly.all(hostId, ...hours(w));
  }

  /** The facts of one host, for GetHostDiagnosis. */
  hostFacts(hostId: number, host: string, w: Window): HostFacts {
    const rows = this.hostDetail.all(hostId, w.startMs, w.endMs, MISDIRECTED);
    return this.facts(hostId, host, w, rows.map(toMisdirected));
  }

  /** The 421s of every host that had one in the window, one host at a time (ascending host id). */
  *misdirectedByHost(w: Window): Generator<HostMisdirected> {
    let current: number | undefined;
    let batch: Misdirected[] = [];
    for (const row of this.windowDetail.iterate(w.startMs, w.endMs, MISDIRECTED)) {
      if (row.host_id !== current) {
        if (current !== undefined) yield { hostId: current, host: this.nameOf(current), misdirected: batch };
        current = row.host_id;
        batch = [];
      }
      batch.push(toMisdirected(row));
    }
    if (current !== undefined) yield { hostId: current, host: this.nameOf(current), misdirected: batch };
  }

  /** Ids of every host fetched in the window. */
  hostsFetched(w: Window): number[] {
    return this.hostsInWindow.all(...hours(w));
  }

  nameOf(hostId: number): string {
    return this.hostName.get(hostId) ?? "";
  }

  /** Client-artifact 421s per crawler, reason and host. */
  alertRows(w: Window): AlertRow[] {
    return this.alerts.all(w.startMs, w.endMs, MISDIRECTED);
  }

  facts(hostId: number, host: string, w: Window, misdirected: Misdirected[]): HostFacts {
    const [from, to] = hours(w);
    const own: OwnTraffic[] = this.own.all(MISDIRECTED, hostId, from, to, K.OWN);
    const last = this.lastOwnAnswered.get(hostId, from, to, K.OWN, MISDIRECTED);
    return {
      host,
      window: w,
      fetchCount: this.fetchCount.get(hostId, from, to) ?? 0,
      misdirected,
      own,
      lastOwnAnsweredHourMs: last === null || last === undefined ? undefined : last * HOUR_MS,
    };
  }
}

function toMisdirected(r: DetailRow): Misdirected {
  return {
    timeMs: r.time_ms,
    crawler: r.crawler,
    fetchId: r.fetch_id,
    connectionId: r.connection_id,
    sni: r.sni ?? undefined,
    protocol: r.protocol,
    kind: r.conn_kind as ConnKind,
    artifact: r.artifact as Artifact,
    address: r.address,
    originFrame: r.origin_frame === null ? undefined : r.origin_frame === 1,
    retryStatuses: r.retry_statuses === null ? [] : r.retry_statuses.split(",").map(Number),
  };
}
