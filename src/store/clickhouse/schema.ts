import { DAY_MS } from "../../domain/window.js";
import { changesRollup, dailyRollup, hourlyRollup, RAW_COLUMNS } from "./rollup.js";
import { ident, int } from "./sql.js";

/** Where the tables live: one server, or a cluster (`<cluster>` in the servers' remote_servers) of shards. */
export interface SchemaOptions {
  database: string;
  /** With a cluster: `<table>_local ON CLUSTER` on every node and a Distributed `<table>` over them. */
  cluster?: string | undefined;
  /** Local tables ReplicatedReplacingMergeTree (needs ZooKeeper and the {shard} and {replica} macros). */
  replicated?: boolean | undefined;
}

interface TableSpec {
  columns: string;
  /** Partition and order of a MergeTree; a table without them keeps nothing (engine Null). */
  partition?: string;
  order?: string;
  /** Rows with the same value land on the same shard; must hold for every copy of a row, so it is the host's. */
  shardBy: string;
}

// Every data table is a ReplacingMergeTree whose key names each stored row exactly: a batch the log delivers
// again writes the same keys, and reads count each key once. Counts are kept per batch (seq in the key) for that
// reason: a per-batch row can be written twice and still read once, a sum across batches could not. Each key's
// rows share a partition (the partition is a function of the key), so merges see them together. Partitions are
// weeks (Monday to Sunday, UTC): with a partition a day, every query of a 30-day window opened 30+ partitions'
// parts, and a host's queries took 3-5x longer (measured on 18.16 at 1M fetches) than on a few large parts.
// Retention drops whole weeks and deletes the days of the week it cuts into (retention.ts).
/** The partition of a UTC day number: its week, counted from Monday 1969-12-29 (days since 1970 + 3). */
export const week = (day: string): string => `intDiv(${day} + 3, 7)`;
export const weekOfDay = (day: number): number => Math.floor((day + 3) / 7);
/** The partition of a moment (epoch ms): the week of its UTC day. */
export const weekOfTime = (timeMs: number): number => weekOfDay(Math.floor(timeMs / DAY_MS));

/** Each table's UTC day, from its columns (retention cuts by it; the partition is its week). */
export const DAY_OF = {
  fetch_hourly: "intDiv(hour, 24)",
  fetch_daily: "day",
  fetch_detail: "intDiv(time_ms, 86400000)",
  fetch_retry: "intDiv(time_ms, 86400000)",
  fetch_batch: "intDiv(written_ms, 86400000)",
  fetch_rewritten: "intDiv(flagged_ms, 86400000)",
  store_changes: "intDiv(changed_ms, 86400000)",
  store_changed_hosts: "intDiv(changed_ms, 86400000)",
  store_changed_retries: "intDiv(changed_ms, 86400000)",
  store_changes_daily: "day",
} as const;

const TABLES: Record<string, TableSpec> = {
  fetch_hourly: {
    columns: `hour Int32, host String, status UInt16, protocol UInt8, conn_kind UInt8, address String, seq UInt64,
      count UInt32`,
    partition: week(DAY_OF.fetch_hourly),
    order: "host, hour, status, protocol, conn_kind, address, seq",
    shardBy: "cityHash64(host)",
  },
  // A host's traffic per day and server address, as SQLite's fetch_daily: a long window reads days, not hours.
  fetch_daily: {
    columns: `day Int32, host String, address String, seq UInt64, fetches UInt32, answered UInt32,
      own_fetches UInt32, own_misdirected UInt32, own_refused UInt32, own_last_answered Nullable(Int32)`,
    partition: week(DAY_OF.fetch_daily),
    order: "host, day, address, seq",
    shardBy: "cityHash64(host)",
  },
  // 421s, refusals and retries; (crawler, fetch_id) is unique (ingest deduplicates), host and time follow from it.
  fetch_detail: {
    columns: `host String, time_ms Int64, crawler String, fetch_id String, status UInt16, protocol UInt8,
      conn_kind UInt8, artifact UInt8, connection_id String, sni Nullable(String), request_index Nullable(UInt32),
      address String, cert_covers Nullable(UInt8), origin_frame Nullable(UInt8), via_alt_svc UInt8,
      retry_of String`,
    partition: week(DAY_OF.fetch_detail),
    order: "host, time_ms, crawler, fetch_id",
    shardBy: "cityHash64(host)",
  },
  // The retries again, keyed by what they retry: the statuses of any set of originals come from one query,
  // whichever host the retry was of and whichever came first.
  fetch_retry: {
    columns: "crawler String, retry_of String, fetch_id String, time_ms Int64, status UInt16",
    partition: week(DAY_OF.fetch_retry),
    order: "crawler, retry_of, fetch_id",
    shardBy: "cityHash64(crawler, retry_of)",
  },
  // One row per batch per write of it: a seq found here twice was written twice (a redelivery).
  fetch_batch: {
    columns: "seq UInt64, write_id UInt64, written_ms Int64",
    partition: week(DAY_OF.fetch_batch),
    order: "seq",
    shardBy: "intHash64(seq)",
  },
  // The seqs written more than once, the only ones whose rows reads must deduplicate (see queries.ts).
  fetch_rewritten: {
    columns: "seq UInt64, flagged_ms Int64",
    partition: week(DAY_OF.fetch_rewritten),
    order: "seq",
    shardBy: "intHash64(seq)",
  },
};

/** The tables' names to read and write: the Distributed ones in a cluster, else the tables themselves. */
export const tableName = (o: SchemaOptions, table: string): string => `${ident(o.database)}.${ident(table)}`;

const onCluster = (o: SchemaOptions): string => (o.cluster === undefined ? "" : ` ON CLUSTER ${ident(o.cluster)}`);
const localName = (o: SchemaOptions, table: string): string =>
  o.cluster === undefined ? tableName(o, table) : `${ident(o.database)}.${ident(`${table}_local`)}`;

function engine(o: SchemaOptions, table: string): string {
  // The ledger must keep every copy: that is how it counts writes (each carries its own random write_id, so a
  // replicated table's insert deduplication cannot take one for another either).
  // store_changes_daily adds up its rows per day, which is what it is for (rollup.ts).
  const kind =
    table === "fetch_batch" ? "MergeTree" : table === "store_changes_daily" ? "SummingMergeTree" : "ReplacingMergeTree";
  if (!o.replicated) return `${kind}()`;
  if (o.cluster === undefined) throw new TypeError("replicated tables need a cluster");
  return `Replicated${kind}('/clickhouse/tables/{shard}/${ident(o.database)}/${ident(table)}', '{replica}')`;
}

// Rows per index mark. With the default 8192, reading one host's rows read a granule of every part of each week
// it spans, mostly other hosts' rows: one host's 421s took 12.8 ms at p50 and its traffic 15.3 on a 10M store
// (18.16), against 5.7 and 10.1 at 1024 (256 gave the same). The primary index and the marks take 8x the memory
// then: for a billion hourly rows, about 50 MB of index and 130 MB of marks (16 bytes a column per 1024 rows).
// A setting, not a column: stores created before keep 8192 and give the same answers, only slower.
const GRANULE_ROWS = 1024;

function createTable(o: SchemaOptions, table: string, spec: TableSpec): string[] {
  const columns = spec.columns.replace(/\s+/g, " ");
  const storage =
    spec.partition === undefined || spec.order === undefined
      ? "Null"
      : `${engine(o, table)} PARTITION BY ${spec.partition} ORDER BY (${spec.order})
    SETTINGS index_granularity = ${int(GRANULE_ROWS)}`;
  const local = `CREATE TABLE IF NOT EXISTS ${localName(o, table)}${onCluster(o)} (${columns}) ENGINE = ${storage}`;
  if (o.cluster === undefined) return [local];
  const distributed = `CREATE TABLE IF NOT EXISTS ${tableName(o, table)}${onCluster(o)} AS ${localName(o, table)}
    ENGINE = Distributed(${ident(o.cluster)}, ${ident(o.database)}, ${ident(`${table}_local`)}, ${spec.shardBy})`;
  return [local, distributed];
}

/**
 * Migrations, applied in order; schema_version holds the numbers applied. Never change what a shipped one creates
 * (tables, columns, keys): append. Storage settings (GRANULE_ROWS) may change: they apply to stores created later.
 * Every statement must be idempotent (IF NOT EXISTS...): two nodes starting at once may both apply the same one.
 */
export const MIGRATIONS: readonly ((o: SchemaOptions) => string[])[] = [
  (o) => Object.entries(TABLES).flatMap(([table, spec]) => createTable(o, table, spec)),
  // One row per finished write (its rows all stored) and per purge: a query node that finds the same count and
  // checksum of write_ids as before knows nothing changed, and may keep the diagnoses it computed (changes.ts).
  (o) =>
    createTable(o, "store_changes", {
      columns: "write_id UInt64, changed_ms Int64",
      partition: week(DAY_OF.store_changes),
      order: "changed_ms, write_id",
      shardBy: "intHash64(write_id)",
    }),
  // The hosts each write touched, under its write_id, and a row with host "" that says the list is whole: a query
  // node drops only those hosts' diagnoses (changes.ts). A change without that row (a purge, a node that predates
  // this table) drops everything. A retry changes its original's host too, which the writer does not know: the
  // retries are listed, and the query node finds their originals' hosts.
  (o) => [
    ...createTable(o, "store_changed_hosts", {
      columns: "write_id UInt64, changed_ms Int64, host String, detail UInt8",
      partition: week(DAY_OF.store_changed_hosts),
      order: "changed_ms, write_id, host",
      shardBy: "intHash64(write_id)",
    }),
    ...createTable(o, "store_changed_retries", {
      columns: "write_id UInt64, changed_ms Int64, crawler String, retry_of String",
      partition: week(DAY_OF.store_changed_retries),
      order: "changed_ms, write_id, crawler, retry_of",
      shardBy: "intHash64(write_id)",
    }),
  ],
  // Fetches as writers send them, rolled up by the server into fetch_hourly and fetch_daily (rollup.ts). Writers
  // of before this migration send those tables' rows themselves, and nothing to fetch_raw: during an upgrade both
  // kinds of writer store each batch once.
  (o) => [
    ...createTable(o, "fetch_raw", { columns: RAW_COLUMNS, shardBy: "cityHash64(host)" }),
    createView(o, "fetch_hourly_rollup", "fetch_hourly", hourlyRollup(localName(o, "fetch_raw"))),
    createView(o, "fetch_daily_rollup", "fetch_daily", dailyRollup(localName(o, "fetch_raw"))),
  ],
  // The change log's count and checksum per day, so that a query node reads them from a row a day instead of
  // scanning every change kept (changes.ts). Counted from this migration on: only their changes matter.
  (o) => [
    ...createTable(o, "store_changes_daily", {
      columns: "day Int32, changes UInt64, checksum UInt64",
      partition: week(DAY_OF.store_changes_daily),
      order: "day",
      shardBy: "intHash64(day)",
    }),
    createView(o, "store_changes_daily_rollup", "store_changes_daily", changesRollup(localName(o, "store_changes"))),
  ],
];

/** A materialized view on each node: what `select` gives for each block inserted into its table goes to `to`. */
function createView(o: SchemaOptions, view: string, to: string, select: string): string {
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${tableName(o, view)}${onCluster(o)} TO ${localName(o, to)}
    AS ${select}`;
}

/** What comes before the migrations: the database and the table that says which migrations were applied. */
export function bootstrapStatements(o: SchemaOptions): string[] {
  // schema_version is per node (a local table): each node reads what its own DDL reached.
  return [
    `CREATE DATABASE IF NOT EXISTS ${ident(o.database)}${onCluster(o)}`,
    `CREATE TABLE IF NOT EXISTS ${ident(o.database)}.schema_version${onCluster(o)} (version UInt32, applied_ms UInt64)
      ENGINE = ReplacingMergeTree() ORDER BY version`,
  ];
}

/** Every statement that creates the schema of `version` from nothing, for tests and for operators to read. */
export function schemaStatements(o: SchemaOptions, version = MIGRATIONS.length): string[] {
  return [
    ...bootstrapStatements(o),
    ...MIGRATIONS.slice(0, version).flatMap((m, i) => [
      ...m(o),
      `INSERT INTO ${ident(o.database)}.schema_version (version, applied_ms) VALUES (${int(i + 1)}, ${int(Date.now())})`,
    ]),
  ];
}
