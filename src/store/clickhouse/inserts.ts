import { Readable } from "node:stream";
import type { ClickHouseClient } from "@clickhouse/client";
import { type PreparedBatch, rawPieces } from "./raw.js";
import { partitionOf, type Rows } from "./rows.js";
import { type SchemaOptions, tableName } from "./schema.js";

// Current servers refuse an insert that spans more partitions than this (max_partitions_per_insert_block); 18.16
// has no such limit nor the setting. Only a backfill of old records spreads a group over that many weeks.
const MAX_PARTITIONS_PER_INSERT = 100;

/** How the store inserts: each call resolves once the server has stored every row it was given. */
export class Inserts {
  // Through a Distributed table, answer only once every shard has the rows, not once they are queued.
  private readonly settings: { insert_distributed_sync?: 1 };

  constructor(
    private readonly client: ClickHouseClient,
    private readonly schema: SchemaOptions,
  ) {
    this.settings = schema.cluster === undefined ? {} : { insert_distributed_sync: 1 };
  }

  /** A data table's rows, in as few inserts as its partitions allow. */
  async table<K extends keyof Rows>(table: K, rows: Rows[K]): Promise<void> {
    for (const chunk of byPartitions(rows, partitionOf[table] as (r: Rows[K][number]) => number)) {
      await this.rows(table, chunk);
    }
  }

  /** The fetches as fetch_raw lines, which the server rolls up (rollup.ts); one piece after the other. */
  async raw(batches: readonly PreparedBatch[]): Promise<void> {
    for (const piece of rawPieces(batches, MAX_PARTITIONS_PER_INSERT)) {
      await this.client.insert({
        table: tableName(this.schema, "fetch_raw"),
        values: Readable.from([piece], { objectMode: false }),
        format: "TabSeparated",
        clickhouse_settings: this.settings,
      });
    }
  }

  async rows(table: string, values: readonly object[]): Promise<void> {
    if (values.length === 0) return;
    await this.client.insert({
      table: tableName(this.schema, table),
      values: values as object[],
      format: "JSONEachRow",
      clickhouse_settings: this.settings,
    });
  }
}

/** The rows in one piece, or, when they span too many partitions for one insert, in pieces of whole weeks. */
function byPartitions<T>(rows: readonly T[], partitionOf: (r: T) => number): T[][] {
  if (rows.length === 0) return [];
  const days = new Map<number, T[]>();
  for (const r of rows) {
    const d = partitionOf(r);
    const list = days.get(d);
    if (list === undefined) days.set(d, [r]);
    else list.push(r);
  }
  if (days.size <= MAX_PARTITIONS_PER_INSERT) return [rows as T[]];
  const out: T[][] = [];
  const lists = [...days.values()];
  for (let i = 0; i < lists.length; i += MAX_PARTITIONS_PER_INSERT) {
    out.push(lists.slice(i, i + MAX_PARTITIONS_PER_INSERT).flat());
  }
  return out;
}
