import { statSync } from "node:fs";
import type { StoreChanges } from "../../domain/diagnosis-cache.js";
import { DomainError } from "../../domain/errors.js";
import { type Fetch, keepsDetail, type Rejection } from "../../domain/fetch.js";
import { ConnKind } from "../../domain/fetch-kind.js";
import {
  ALREADY_RECORDED,
  type BatchToCommit,
  type Committed,
  finishResult,
  type IngestResult,
  type IngestStore,
  type StoredRequest,
} from "../../domain/ingest.js";
import { HOUR_MS } from "../../domain/window.js";
import { DailyDeltas, DailyUpsert } from "./daily-deltas.js";
import type { Db } from "./db.js";
import { Dictionary } from "./dictionary.js";
import { HourlyDeltas, HourlyUpsert } from "./hourly-deltas.js";

const bool = (b: boolean | undefined): number | null => (b === undefined ? null : b ? 1 : 0);

/** The single writer: one synchronous transaction per group of batches, statements prepared once. */
export class Writer implements IngestStore {
  private readonly hosts;
  private readonly crawlers;
  private readonly addresses;
  private readonly findRequestStmt;
  private readonly insertRequest;
  private readonly upsertHourly;
  private readonly upsertDaily;
  private readonly detailExists;
  private readonly insertDetail;
  private readonly retriesOf;
  private readonly addRetry;
  private touched = new Set<number>();
  private touchedDetail = new Set<number>();
  private readonly commit;
  private readonly pageCount;
  private readonly pageSize: number;

  constructor(private readonly db: Db) {
    this.hosts = new Dictionary(db, "hosts", "name");
    this.crawlers = new Dictionary(db, "crawlers", "name");
    this.addresses = new Dictionary(db, "addresses", "addr");
    this.findRequestStmt = db.prepare<[string], { digest: Buffer; result: string }>(
      "SELECT digest, result FROM requests WHERE request_id = ?",
    );
    this.insertRequest = db.prepare(
      "INSERT INTO requests (request_id, digest, created_ms, result) VALUES (?, ?, ?, ?)",
    );
    this.upsertHourly = new HourlyUpsert(db);
    this.upsertDaily = new DailyUpsert(db);
    this.detailExists = db
      .prepare<[number, string], number>("SELECT 1 FROM fetch_detail WHERE crawler_id = ? AND fetch_id = ?")
      .pluck();
    this.insertDetail = db.prepare(
      `INSERT INTO fetch_detail (host_id, crawler_id, fetch_id, time_ms, status, protocol, conn_kind, artifact,
         connection_id, sni, request_index, address_id, cert_covers, origin_frame, via_alt_svc, retry_of,
         retry_statuses)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // A retry that came before its original: the original picks the statuses up when it is stored.
    this.retriesOf = db
      .prepare<[number, string], string | null>(
        "SELECT group_concat(status) FROM fetch_detail WHERE crawler_id = ? AND retry_of = ?",
      )
      .pluck();
    this.addRetry = db
      .prepare<[string, number, string], number>(
        `UPDATE fetch_detail SET retry_statuses = COALESCE(retry_statuses || ',', '') || ?
         WHERE crawler_id = ? AND fetch_id = ? RETURNING host_id`,
      )
      .pluck();
    this.commit = db.transaction((batches: readonly BatchToCommit[]) => this.write(batches));
    this.pageCount = db.prepare<[], number>("PRAGMA page_count").pluck();
    this.pageSize = db.pragma("page_size", { simple: true }) as number;
  }

  sizeBytes(): number {
    let wal = 0;
    try {
      wal = statSync(`${this.db.name}-wal`).size;
    } catch {
      // No WAL file (yet): nothing to add.
    }
    return (this.pageCount.get() ?? 0) * this.pageSize + wal;
  }

  findRequest(requestId: string): StoredRequest | undefined {
    const row = this.findRequestStmt.get(requestId);
    return row === undefined ? undefined : { digest: row.digest, result: JSON.parse(row.result) as IngestResult };
  }

  /** The hosts changed since the last call, for caches of answers derived from them. */
  takeChanges(): StoreChanges {
    const out = { hosts: [...this.touched], detail: [...this.touchedDetail] };
    this.touched = new Set();
    this.touchedDetail = new Set();
    return out;
  }

  commitBatches(batches: readonly BatchToCommit[]): Committed[] {
    try {
      return this.commit(batches);
    } catch (cause) {
      // Nothing was stored; reporting hosts as changed anyway is harmless, missing one would not be.
      this.hosts.forget();
      this.crawlers.forget();
      this.addresses.forget();
      throw new DomainError(
        "unavailable",
        "storage failed, nothing was stored; retry with the same request_id",
        undefined,
        {
          cause,
        },
      );
    }
  }

  private write(batches: readonly BatchToCommit[]): Committed[] {
    const deltas = new HourlyDeltas();
    const daily = new DailyDeltas();
    const out = batches.map((b): Committed => {
      // Asked again inside the transaction: an earlier batch of this group may have used the same request_id.
      const prior = this.findRequest(b.requestId);
      return prior === undefined ? { result: this.writeBatch(b, deltas) } : { prior };
    });
    for (const d of deltas.deltas())
      daily.add(d.hour, d.hostId, d.addressId, d.kind === ConnKind.OWN, d.status, d.count);
    // One upsert per distinct key for the whole group rather than one per fetch.
    deltas.flush(this.upsertHourly);
    daily.flush(this.upsertDaily);
    return out;
  }

  private writeBatch(b: BatchToCommit, deltas: HourlyDeltas): IngestResult {
    const rejections: Rejection[] = [...b.rejections];
    let accepted = 0;
    for (const f of b.fetches) {
      const hostId = this.hosts.idOf(f.host);
      const addressId = f.address === "" ? 0 : this.addresses.idOf(f.address);
      if (keepsDetail(f) && !this.storeDetail(f, hostId, addressId)) {
        rejections.push({
          index: f.index,
          fetchId: f.fetchId,
          field: "fetch_id",
          reason: ALREADY_RECORDED,
        });
        continue;
      }
      accepted++;
      const hour = Math.floor(f.timeMs / HOUR_MS);
      deltas.add(hour, hostId, f.status, f.protocol, f.kind, addressId);
      this.touched.add(hostId);
    }
    const result = finishResult(accepted, rejections);
    this.insertRequest.run(b.requestId, b.digest, b.nowMs, JSON.stringify(result));
    return result;
  }

  private storeDetail(f: Fetch, hostId: number, addressId: number): boolean {
    const crawlerId = this.crawlers.idOf(f.crawler);
    if (this.detailExists.get(crawlerId, f.fetchId) !== undefined) return false;
    this.touchedDetail.add(hostId);
    if (f.retryOf !== "") {
      // The original's facts change too, and it may be of another host.
      const original = this.addRetry.get(String(f.status), crawlerId, f.retryOf);
      if (original !== undefined) {
        this.touched.add(original);
        this.touchedDetail.add(original);
      }
    }
    this.insertDetail.run(
      hostId,
      crawlerId,
      f.fetchId,
      f.timeMs,
      f.status,
      f.protocol,
      f.kind,
      f.artifact,
      f.connectionId,
      f.sni ?? null,
      f.requestIndex ?? null,
      addressId,
      bool(f.certCovers),
      bool(f.originFrame),
      f.viaAltSvc ? 1 : 0,
      f.retryOf === "" ? null : f.retryOf,
      this.retriesOf.get(crawlerId, f.fetchId) ?? null,
    );
    return true;
  }
}
