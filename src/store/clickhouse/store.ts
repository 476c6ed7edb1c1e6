import { randomInt } from "node:crypto";
import type { ClickHouseClient } from "@clickhouse/client";
import type { BatchStore, LoggedBatch } from "../../domain/logged-batch.js";
import type { ReadStore } from "../../domain/read-store.js";
import {
  type ChangeTotalsRow,
  changedHostRows,
  changedRetryRows,
  changeLogOf,
  changeTotalsQuery,
  originalsQuery,
  type RecentChangesRow,
  recentChangesQuery,
  type TouchedRow,
  touchedOf,
  touchedQuery,
} from "./change-log.js";
import type { ChangeFeed, ChangeLog, TouchedHosts } from "./changes.js";
import { connect } from "./connection.js";
import { CopyTarget } from "./copy.js";
import { HostIds } from "./host-ids.js";
import { Inserts } from "./inserts.js";
import { applySchema } from "./migrate.js";
import { type Tables, totalDetail, totalFetches } from "./queries.js";
import { type PreparedBatch, prepareBatch } from "./raw.js";
import { ClickHouseReader, Rewrites } from "./reader.js";
import { purge } from "./retention.js";
import type { Rows } from "./rows.js";
import { type SchemaOptions, tableName } from "./schema.js";
import { list } from "./sql.js";

export interface OpenOptions {
  /** The cluster (remote_servers) to create the tables on, sharded by host; unset = one server. */
  cluster?: string | undefined;
  /** Replicated local tables (a cluster with ZooKeeper and {shard}/{replica} macros). */
  replicated?: boolean | undefined;
}

/**
 * Cluster mode's store: writers hand it the log's batches (BatchStore), query nodes read through reads().
 * Every figure is kept so that writing a batch again, in any group, changes nothing (see schema.ts).
 */
export class ClickHouseStore implements ChangeFeed, BatchStore<PreparedBatch> {
  private readonly tables: Tables;
  private readonly rewrites = new Rewrites();
  private readonly inserts: Inserts;

  private constructor(
    private readonly client: ClickHouseClient,
    private readonly schema: SchemaOptions,
  ) {
    this.inserts = new Inserts(client, schema);
    const name = (t: string) => tableName(schema, t);
    this.tables = {
      hourly: name("fetch_hourly"),
      daily: name("fetch_daily"),
      detail: name("fetch_detail"),
      retry: name("fetch_retry"),
      batch: name("fetch_batch"),
      rewritten: name("fetch_rewritten"),
      changes: name("store_changes"),
      changesDaily: name("store_changes_daily"),
      changedHosts: name("store_changed_hosts"),
      changedRetries: name("store_changed_retries"),
      in: schema.cluster === undefined ? "IN" : "GLOBAL IN",
    };
  }

  /** Connects and brings the schema up to date (whichever node comes first creates it). */
  static async open(url: string, opts: OpenOptions = {}): Promise<ClickHouseStore> {
    const { client, database } = connect(url);
    const schema = { database, cluster: opts.cluster, replicated: opts.replicated };
    try {
      await applySchema(client, schema);
    } catch (e) {
      await client.close();
      throw e;
    }
    return new ClickHouseStore(client, schema);
  }

  /**
   * One insert per table for the whole group; resolves once the server has stored them all. The group's seqs go
   * to the ledger first: a seq it then holds twice is flagged before its rows are written again, so that reads
   * know to deduplicate it (whichever of two concurrent writers checks last sees both ledger rows).
   */
  async write(batches: readonly PreparedBatch[]): Promise<void> {
    if (batches.length === 0) return;
    const rows: Rows = {
      fetch_hourly: [],
      fetch_daily: [],
      fetch_detail: batches.flatMap((b) => b.detail),
      fetch_retry: batches.flatMap((b) => b.retry),
    };
    await this.recordSeqs([...new Set(batches.map((b) => b.seq))]);
    await this.insertAll(rows, batches);
  }

  /** What write() needs of a batch (raw.ts): writers keep batches so while their group gathers. */
  prepare(batch: LoggedBatch): PreparedBatch {
    return prepareBatch(batch);
  }

  /**
   * The ledger half of write(), for writers of rows built elsewhere (copy-store): must come before any row of
   * these seqs is inserted, on every attempt, so that a seq whose rows may be there twice is always flagged.
   */
  async recordSeqs(seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    const now = Date.now();
    await this.inserts.rows(
      "fetch_batch",
      seqs.map((seq) => ({ seq, write_id: randomInt(2 ** 47), written_ms: now })),
    );
    const again: number[] = [];
    for (let i = 0; i < seqs.length; i += 5000) {
      const rows = await this.select<{ seq: string | number }>(
        `SELECT seq FROM ${this.tables.batch} WHERE seq IN (${list(seqs.slice(i, i + 5000))})
          GROUP BY seq HAVING count() > 1`,
      );
      for (const r of rows) again.push(Number(r.seq));
    }
    if (again.length > 0)
      await this.inserts.rows(
        "fetch_rewritten",
        again.map((seq) => ({ seq, flagged_ms: now })),
      );
  }

  /**
   * The rows half of write(): their seqs must have gone through recordSeqs() first. The change is recorded once
   * every row is stored, never before: a query node that sees it can trust that what it reads next includes them,
   * and the hosts it touched, stored beside the rows (changes.ts).
   */
  async insertAll(rows: Rows, raw: readonly PreparedBatch[] = []): Promise<void> {
    const change = newChange();
    await Promise.all([
      ...(Object.keys(rows) as (keyof Rows)[]).map((table) => this.inserts.table(table, rows[table])),
      this.inserts.raw(raw),
      this.inserts.rows("store_changed_hosts", changedHostRows(rows, raw, change.write_id, change.changed_ms)),
      this.inserts.rows("store_changed_retries", changedRetryRows(rows, change.write_id, change.changed_ms)),
    ]);
    await this.inserts.rows("store_changes", [change]);
  }

  /** store_changes now: count, checksum, and the changes at or after `sinceMs` (changes.ts). */
  async changes(sinceMs: number): Promise<ChangeLog> {
    const [totals, recent] = await Promise.all([
      this.select<ChangeTotalsRow>(changeTotalsQuery(this.tables)),
      this.select<RecentChangesRow>(recentChangesQuery(this.tables, sinceMs)),
    ]);
    return changeLogOf(totals[0], recent[0]);
  }

  /** The hosts the changes `ids` touched (changes.ts). */
  async touched(ids: readonly number[], sinceMs: number, limit = 1_000_000): Promise<TouchedHosts> {
    if (ids.length === 0) return { hosts: [], detail: [], whole: 0, more: false };
    const [touched, originals] = await Promise.all([
      this.select<TouchedRow>(touchedQuery(this.tables, ids, sinceMs, limit)),
      this.select<{ host: string }>(originalsQuery(this.tables, ids, sinceMs)),
    ]);
    return touchedOf(touched, originals, limit);
  }

  private async select<T>(query: string): Promise<T[]> {
    return (await this.client.query({ query, format: "JSONEachRow" })).json<T>();
  }

  /**
   * A ReadStore for one query call; host ids are interned in `ids`, which may outlive it (changes.ts). `oneHost`:
   * the call reads a single host's rows (see ReaderOptions).
   */
  reads(ids = new HostIds(), oneHost = false): ReadStore {
    return new ClickHouseReader(this.client, this.tables, ids, { rewrites: this.rewrites, oneHost });
  }

  /** What copy-store reads and keeps beside the rows it writes through recordSeqs() and insertAll(). */
  copyTarget(): CopyTarget {
    return new CopyTarget(this.client, this.schema, this.tables);
  }

  /** Whether the server answers /ping; never throws (health checks ask it while ClickHouse is down). */
  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()).success;
    } catch {
      return false;
    }
  }

  /** Fetches counted and detail rows kept, each batch once however often it was written. */
  async counts(): Promise<{ fetches: number; detail: number }> {
    const reads = new ClickHouseReader(this.client, this.tables, new HostIds(), { rewrites: this.rewrites });
    const [fetches, detail] = await Promise.all([reads.count(totalFetches), reads.count(totalDetail)]);
    return { fetches, detail };
  }

  /** Drops the whole UTC days older than the retention period (0 keeps everything); counts the rows dropped. */
  async purge(nowMs: number, retentionDays: number): Promise<{ hourly: number; detail: number; requests: number }> {
    const counts = await purge(this.client, this.schema, nowMs, retentionDays);
    // A change that lists no hosts: query nodes drop every diagnosis they kept.
    if (counts.hourly > 0 || counts.detail > 0) await this.inserts.rows("store_changes", [newChange()]);
    return counts;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** A store_changes row: a random id (the change log's checksum adds them up) and the time, on this node's clock. */
const newChange = () => ({ write_id: randomInt(2 ** 47), changed_ms: Date.now() });
