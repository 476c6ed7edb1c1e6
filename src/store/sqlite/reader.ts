import type { AddressTraffic, DetailFetch, HostFacts, Window } from "../../domain/diagnosis.js";
import { isRefused, MISDIRECTED, REFUSAL_STATUSES } from "../../domain/fetch.js";
import type { Artifact, ConnKind } from "../../domain/fetch-kind.js";
import type { AlertRow, HostDetail, HourlyRow, ReadStore } from "../../domain/read-store.js";
import { HOUR_MS } from "../../domain/window.js";
import type { Db } from "./db.js";
import { TrafficReader } from "./traffic.js";

/** A detail row as read: an array in DETAIL_COLUMNS order (raw mode costs half of a row object per row). */
type DetailRow = [
  time_ms: number,
  status: number,
  crawler_id: number,
  connection_id: string,
  sni: string | null,
  protocol: number,
  conn_kind: number,
  artifact: number,
  address_id: number,
  origin_frame: number | null,
  retry_statuses: string | null,
];

const hours = (w: Window): [number, number] => [w.startMs / HOUR_MS, w.endMs / HOUR_MS];

// fetch_hourly is keyed (hour, host_id, ...): a host's rows in a window are found by one seek per hour, so the
// cost follows the window's length, not how much traffic other hosts stored in it.
const HOST_HOURS = `WITH RECURSIVE hrs(h) AS (SELECT @from WHERE @from < @to UNION ALL SELECT h + 1 FROM hrs WHERE h + 1 < @to)
  SELECT f.hour, f.status, f.protocol, f.conn_kind, f.address_id, f.count
  FROM hrs CROSS JOIN fetch_hourly f ON f.hour = hrs.h AND f.host_id = @host`;

// Every read touches aggregates, or 421/retry detail through an index: never the ordinary traffic row by row.
// Crawler and address names come from the reader's caches: joining them cost as much as reading the rows. Only
// the columns the classifier uses: each one read costs about 0.3 µs a row, and busy hosts have thousands of rows.
const DETAIL_COLUMNS = `d.time_ms, d.status, d.crawler_id, d.connection_id, d.sni, d.protocol, d.conn_kind, d.artifact,
  d.address_id, d.origin_frame, d.retry_statuses
  FROM fetch_detail d`;
const REFUSALS = [...REFUSAL_STATUSES].join(", ");
// 421s and the statuses a refusal can have; isRefused() then picks the refusals among the latter.
const KEPT_STATUS = `d.status IN (${MISDIRECTED}, ${REFUSALS})`;
// Names by id never change; a bound keeps a stream of new names from growing the caches without end.
const MAX_NAMES = 100_000;
// Most 421s are never retried: one shared empty list instead of one per row (nothing mutates it).
const NOT_RETRIED: readonly number[] = [];

/** Read-side queries. Works on any connection to the database, so it can run beside the writer. */
export class Reader implements ReadStore {
  private readonly hostId;
  private readonly hostName;
  private readonly hourly;
  private readonly traffic;
  private readonly firstHour;
  private readonly lastHour;
  private readonly addressName;
  private readonly crawlerName;
  private readonly names = { address: new Map<number, string>(), crawler: new Map<number, string>() };
  private readonly hostDetail;
  private readonly detailHosts;
  private readonly alerts;

  constructor(db: Db) {
    this.hostId = db.prepare<[string], number>("SELECT id FROM hosts WHERE name = ?").pluck();
    this.hostName = db.prepare<[number], string>("SELECT name FROM hosts WHERE id = ?").pluck();
    type HostHours = { host: number; from: number; to: number };
    this.hourly = db.prepare<HostHours, HourlyRow>(
      `SELECT hour, status, protocol, SUM(count) AS count FROM (${HOST_HOURS})
       GROUP BY hour, status, protocol ORDER BY hour`,
    );
    this.traffic = new TrafficReader(db);
    this.firstHour = db.prepare<[], number | null>("SELECT MIN(hour) FROM fetch_hourly").pluck();
    this.lastHour = db.prepare<[], number | null>("SELECT MAX(hour) FROM fetch_hourly").pluck();
    this.addressName = db.prepare<[number], string>("SELECT addr FROM addresses WHERE id = ?").pluck();
    this.crawlerName = db.prepare<[number], string>("SELECT name FROM crawlers WHERE id = ?").pluck();
    this.hostDetail = db
      .prepare<[number, number, number], DetailRow>(
        `SELECT ${DETAIL_COLUMNS} WHERE d.host_id = ? AND d.time_ms >= ? AND d.time_ms < ? AND ${KEPT_STATUS}`,
      )
      .raw(true);
    this.detailHosts = db
      .prepare<[number, number], number>(
        `SELECT DISTINCT d.host_id FROM fetch_detail d WHERE d.time_ms >= ? AND d.time_ms < ? AND ${KEPT_STATUS}`,
      )
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
    return this.hourly.all(this.hostHoursOf(hostId, w));
  }

  /** The window in hours, cut to the hours that hold data so that a long window costs no empty seeks. */
  private hostHoursOf(host: number, w: Window): { host: number; from: number; to: number } {
    const [from, to] = hours(w);
    const first = this.firstHour.get() ?? 0;
    const last = this.lastHour.get() ?? -1;
    return { host, from: Math.max(from, first), to: Math.min(to, last + 1) };
  }

  /** The facts of one host, for GetHostDiagnosis. */
  hostFacts(hostId: number, host: string, w: Window): HostFacts {
    return this.facts(this.detailOf(hostId, host, w), w);
  }

  /**
   * The 421s and refusals of every host that had one in the window, one host at a time: the hosts come from an
   * index (time, host, status), so only one host's rows are ever in memory.
   */
  *detailByHost(w: Window): Generator<HostDetail> {
    for (const hostId of this.detailHosts.all(w.startMs, w.endMs)) {
      const detail = this.detailOf(hostId, this.nameOf(hostId), w);
      // A host whose rows were all 400/403 answers that are not refusals has nothing to diagnose.
      if (detail.misdirected.length > 0 || detail.refused.length > 0) yield detail;
    }
  }

  private detailOf(hostId: number, host: string, w: Window): HostDetail {
    const detail: HostDetail = { hostId, host, misdirected: [], refused: [] };
    for (const row of this.hostDetail.iterate(hostId, w.startMs, w.endMs)) this.sort(detail, row);
    return detail;
  }

  /** Puts a detail row with it host's 421s or refusals; other 400/403 rows (own connections, artifacts) go. */
  private sort(detail: HostDetail, row: DetailRow): void {
    const [, status, , , , , kind, artifact] = row;
    if (status === MISDIRECTED) detail.misdirected.push(this.toDetail(row));
    else if (isRefused({ status, kind: kind as ConnKind, artifact: artifact as Artifact })) {
      detail.refused.push(this.toDetail(row));
    }
  }

  /** Ids of every host fetched in the window. */
  hostsFetched(w: Window): number[] {
    return [...this.traffic.hostsFetched(w)];
  }

  nameOf(hostId: number): string {
    return this.hostName.get(hostId) ?? "";
  }

  /** Client-artifact 421s per crawler, reason and host. */
  alertRows(w: Window): AlertRow[] {
    return this.alerts.all(w.startMs, w.endMs, MISDIRECTED);
  }

  facts(detail: HostDetail, w: Window): HostFacts {
    let fetchCount = 0;
    let lastOwnAnswered: number | undefined;
    const traffic = new Map<number, AddressTraffic>();
    for (const r of this.traffic.rows(detail.hostId, w)) {
      fetchCount += r.fetches;
      let a = traffic.get(r.address_id);
      if (a === undefined) {
        a = {
          address: this.name("address", r.address_id),
          ownFetches: 0,
          ownMisdirected: 0,
          ownRefused: 0,
          answered: 0,
        };
        traffic.set(r.address_id, a);
      }
      a.answered += r.answered;
      a.ownFetches += r.own_fetches;
      a.ownMisdirected += r.own_misdirected;
      a.ownRefused += r.own_refused;
      const last = r.own_last_answered;
      if (last !== null) lastOwnAnswered = Math.max(lastOwnAnswered ?? last, last);
    }
    return {
      host: detail.host,
      window: w,
      fetchCount,
      misdirected: detail.misdirected,
      refused: detail.refused,
      traffic: [...traffic.values()],
      lastOwnAnsweredHourMs: lastOwnAnswered === undefined ? undefined : lastOwnAnswered * HOUR_MS,
    };
  }

  private name(kind: "address" | "crawler", id: number): string {
    const cache = this.names[kind];
    let name = cache.get(id);
    if (name === undefined) {
      name = (kind === "address" ? this.addressName : this.crawlerName).get(id) ?? "";
      if (cache.size >= MAX_NAMES) cache.clear();
      cache.set(id, name);
    }
    return name;
  }

  private toDetail(r: DetailRow): DetailFetch {
    const [timeMs, status, crawlerId, connectionId, sni, protocol, kind, artifact, addressId, originFrame, retries] = r;
    return {
      timeMs,
      status,
      crawler: this.name("crawler", crawlerId),
      connectionId,
      sni: sni ?? undefined,
      protocol,
      kind: kind as ConnKind,
      artifact: artifact as Artifact,
      address: this.name("address", addressId),
      originFrame: originFrame === null ? undefined : originFrame === 1,
      retryStatuses: retries === null ? NOT_RETRIED : retries.split(",").map(Number),
    };
  }
}
