import type { ClickHouseClient } from "@clickhouse/client";
import { DAY_MS } from "../../domain/window.js";
import { DAY_OF, type SchemaOptions, tableName, week } from "./schema.js";
import { ident, int, str } from "./sql.js";

// The ledger's days are those of the writes: a batch's fetches are at most 5 minutes ahead of its write (ingest
// refuses more), so a ledger day goes a day after the data's cutoff, once every fetch it can vouch for is gone.
const LAG: Record<string, number> = {
  fetch_batch: 1,
  fetch_rewritten: 1,
  store_changes: 1,
  store_changed_hosts: 1,
  store_changed_retries: 1,
  store_changes_daily: 1,
};
const MUTATION_WAIT_MS = 120_000;

/**
 * Deletes the whole UTC days older than the retention period (0 keeps everything), as SQLite's purge does. Weeks
 * wholly before the cutoff are dropped (DROP PARTITION, instant); the days of the week it cuts into are deleted
 * (ALTER DELETE, a mutation that rewrites that week's parts, waited for on a single server). Counts are the rows
 * deleted as stored (a batch written twice and not merged yet counts twice). There are no request ids here: the
 * log deduplicates them, so `requests` is always 0.
 */
export async function purge(
  client: ClickHouseClient,
  o: SchemaOptions,
  nowMs: number,
  retentionDays: number,
): Promise<{ hourly: number; detail: number; requests: number }> {
  const counts = { hourly: 0, detail: 0, requests: 0 };
  if (retentionDays <= 0) return counts;
  const cutoff = Math.floor((nowMs - retentionDays * DAY_MS) / DAY_MS);
  for (const [table, day] of Object.entries(DAY_OF)) {
    const before = cutoff - (LAG[table] ?? 0);
    const rs = await client.query({
      query: `SELECT ${week(day)} AS w, count() AS n FROM ${tableName(o, table)} WHERE ${day} < ${int(before)}
        GROUP BY w ORDER BY w`,
      format: "JSONEachRow",
    });
    let mutated = false;
    for (const { w, n } of await rs.json<{ w: string | number; n: string | number }>()) {
      const partition = Number(w);
      // Week w holds days [7w - 3, 7w + 4).
      const alter = `ALTER TABLE ${localTable(o, table)}${onCluster(o)}`;
      if (7 * partition + 4 <= before) await client.command({ query: `${alter} DROP PARTITION ${int(partition)}` });
      else if (!mutated) {
        await client.command({ query: `${alter} DELETE WHERE ${day} < ${int(before)}` });
        mutated = true;
      }
      if (table === "fetch_hourly") counts.hourly += Number(n);
      if (table === "fetch_detail") counts.detail += Number(n);
    }
    if (mutated && o.cluster === undefined) await mutationsDone(client, o.database, table);
  }
  return counts;
}

/** Waits for the table's mutations: 18.16 cannot run them synchronously (no mutations_sync). */
async function mutationsDone(client: ClickHouseClient, database: string, table: string): Promise<void> {
  const deadline = Date.now() + MUTATION_WAIT_MS;
  while (Date.now() < deadline) {
    const rs = await client.query({
      query: `SELECT count() AS n FROM system.mutations WHERE database = ${str(database)} AND table = ${str(table)}
        AND is_done = 0`,
      format: "JSONEachRow",
    });
    const [row] = await rs.json<{ n: string | number }>();
    if (Number(row?.n ?? 0) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`ClickHouse: the retention delete on ${table} has not finished after ${MUTATION_WAIT_MS} ms`);
}

const localTable = (o: SchemaOptions, table: string) =>
  o.cluster === undefined ? tableName(o, table) : `${ident(o.database)}.${ident(`${table}_local`)}`;
const onCluster = (o: SchemaOptions) => (o.cluster === undefined ? "" : ` ON CLUSTER ${ident(o.cluster)}`);
