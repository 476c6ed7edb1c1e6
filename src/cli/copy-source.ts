import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { IngestResult } from "../domain/ingest.js";
import { DAY_MS } from "../domain/window.js";
import { type DayFigures, dayIn } from "../store/clickhouse/copy.js";
import type { DailyRow, DetailRow, HourlyRow } from "../store/clickhouse/rows.js";
import { MIGRATIONS } from "../store/sqlite/schema.js";

type Names = Map<number, string>;
type N7 = [number, number, number, number, number, number, number];
type Row = Omit<DetailRow, "host" | "crawler" | "address" | "retry_of"> & {
  host_id: number;
  crawler_id: number;
  address_id: number;
  retry_of: string | null;
};

/**
 * The SQLite store copy-store reads: opened read-only (it never changes the file, not even its WAL mode), rows
 * given as ClickHouse's rows.ts has them, dictionary ids resolved to names. Rows come out with seq 0; the
 * caller sets it.
 */
export class CopySource {
  private readonly hosts: Names;
  private readonly crawlers: Names;
  private readonly addresses: Names;

  private constructor(private readonly db: Database.Database) {
    // Names are loaded once: joining the dictionaries per row cost as much as reading the rows (reader.ts).
    const names = (sql: string): Names =>
      new Map(
        db
          .prepare<[], { id: number; name: string }>(sql)
          .all()
          .map((r) => [r.id, r.name]),
      );
    this.hosts = names("SELECT id, name FROM hosts");
    this.crawlers = names("SELECT id, name FROM crawlers");
    this.addresses = names("SELECT id, addr AS name FROM addresses");
  }

  static open(path: string): CopySource {
    // better-sqlite3 would report a missing file as "unable to open database file", naming nothing.
    if (!existsSync(path)) throw new Error(`no SQLite store at ${path} (--db or CRAWLDIAG_DB)`);
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const version = db.pragma("user_version", { simple: true }) as number;
      if (version !== MIGRATIONS.length) {
        throw new Error(
          `${path} has SQLite schema version ${version}, this program ${MIGRATIONS.length}: ` +
            "start and stop the service of this version on it once (it migrates the file), then copy",
        );
      }
      return new CopySource(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    this.db.close();
  }

  /** The request_ids recorded since `sinceMs`, with the digest and result their replays answer, oldest first. */
  *requests(sinceMs: number): Generator<{ requestId: string; digest: Buffer; result: IngestResult }> {
    const rows = this.db
      .prepare<[number], { request_id: string; digest: Buffer; result: string }>(
        "SELECT request_id, digest, result FROM requests WHERE created_ms >= ? ORDER BY created_ms",
      )
      .iterate(sinceMs);
    for (const r of rows) yield { requestId: r.request_id, digest: r.digest, result: JSON.parse(r.result) };
  }

  /**
   * The (crawler, fetch_id) of every detail row, whatever its day: SQLite refuses each of them again
   * (its unique index) for as long as the row is kept, not only for the 7 days request_ids are.
   */
  *claims(): Generator<{ crawler: string; fetchId: string }> {
    const rows = this.db.prepare<[], [number, string]>("SELECT crawler_id, fetch_id FROM fetch_detail").raw().iterate();
    for (const [crawler, fetchId] of rows as Iterable<[number, string]>) {
      yield { crawler: this.name(this.crawlers, crawler), fetchId };
    }
  }

  /** Every UTC day with data, with its figures, in day order. */
  days(): Map<number, DayFigures> {
    const byDay = new Map<number, DayFigures>();
    const at = (d: number) => dayIn(byDay, d);
    const q = <T>(sql: string) => this.db.prepare<[], T>(sql).all();
    for (const r of q<{ d: number; n: number }>("SELECT hour / 24 AS d, SUM(count) AS n FROM fetch_hourly GROUP BY 1"))
      at(r.d).fetches = r.n;
    for (const r of q<{ d: number; n: number }>("SELECT day AS d, SUM(fetches) AS n FROM fetch_daily GROUP BY 1"))
      at(r.d).daily = r.n;
    for (const r of q<{ d: number; n: number; retries: number }>(
      `SELECT time_ms / ${DAY_MS} AS d, COUNT(*) AS n, COUNT(retry_of) AS retries FROM fetch_detail GROUP BY 1`,
    )) {
      at(r.d).detail = r.n;
      at(r.d).retries = r.retries;
    }
    return new Map([...byDay].sort(([a], [b]) => a - b));
  }

  // Rows come as arrays (raw()) and objects are built field by field: rest/spread per row cost 5x the reading.
  *hourly(day: number): Generator<HourlyRow> {
    const rows = this.db
      .prepare<[number, number], number[]>(
        `SELECT hour, host_id, status, protocol, conn_kind, address_id, count FROM fetch_hourly
          WHERE hour >= ? AND hour < ?`,
      )
      .raw()
      .iterate(day * 24, day * 24 + 24);
    for (const [hour, host, status, protocol, conn_kind, address, count] of rows as Iterable<N7>) {
      yield {
        hour,
        host: this.name(this.hosts, host),
        status,
        protocol,
        conn_kind,
        address: this.name(this.addresses, address),
        seq: 0,
        count,
      };
    }
  }

  *daily(day: number): Generator<DailyRow> {
    const rows = this.db
      .prepare<[number], (number | null)[]>(
        `SELECT host_id, address_id, fetches, answered, own_fetches, own_misdirected, own_refused, own_last_answered
          FROM fetch_daily WHERE day = ?`,
      )
      .raw()
      .iterate(day);
    for (const [host, address, fetches, answered, own_fetches, own_misdirected, own_refused, last] of rows as Iterable<
      [...N7, number | null]
    >) {
      yield {
        day,
        host: this.name(this.hosts, host),
        address: this.name(this.addresses, address),
        seq: 0,
        fetches,
        answered,
        own_fetches,
        own_misdirected,
        own_refused,
        own_last_answered: last,
      };
    }
  }

  /** The day's detail rows; a retry's fetch_retry row follows from retry_of (as rows.ts derives it). */
  *detail(day: number): Generator<DetailRow> {
    const rows = this.db
      .prepare<[number, number], Row>(
        `SELECT host_id, time_ms, crawler_id, fetch_id, status, protocol, conn_kind, artifact, connection_id, sni,
            request_index, address_id, cert_covers, origin_frame, via_alt_svc, retry_of
          FROM fetch_detail WHERE time_ms >= ? AND time_ms < ?`,
      )
      .iterate(day * DAY_MS, (day + 1) * DAY_MS);
    for (const r of rows) {
      yield {
        host: this.name(this.hosts, r.host_id),
        time_ms: r.time_ms,
        crawler: this.name(this.crawlers, r.crawler_id),
        fetch_id: r.fetch_id,
        status: r.status,
        protocol: r.protocol,
        conn_kind: r.conn_kind,
        artifact: r.artifact,
        connection_id: r.connection_id,
        sni: r.sni,
        request_index: r.request_index,
        address: this.name(this.addresses, r.address_id),
        cert_covers: r.cert_covers,
        origin_frame: r.origin_frame,
        via_alt_svc: r.via_alt_svc,
        // SQLite's NULL = not a retry; ClickHouse's column is not nullable and says it with "" (rows.ts).
        retry_of: r.retry_of ?? "",
      };
    }
  }

  private name(names: Names, id: number): string {
    const name = names.get(id);
    // The service writes a dictionary entry before any row that uses it; a dangling id is a damaged file.
    if (name === undefined) throw new Error(`the SQLite store refers to a dictionary id ${id} it does not have`);
    return name;
  }
}
