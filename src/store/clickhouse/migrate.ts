import type { ClickHouseClient } from "@clickhouse/client";
import { bootstrapStatements, MIGRATIONS, type SchemaOptions } from "./schema.js";
import { ident, int } from "./sql.js";

/**
 * Creates the database and applies the migrations this node has not seen, recording each in schema_version.
 * Safe to run on several nodes at once: every statement is idempotent, so a race applies one twice, harmlessly.
 */
export async function applySchema(client: ClickHouseClient, o: SchemaOptions): Promise<number> {
  for (const query of bootstrapStatements(o)) await client.command({ query });
  const rs = await client.query({
    query: `SELECT max(version) AS v FROM ${ident(o.database)}.schema_version`,
    format: "JSONEachRow",
  });
  const [row] = await rs.json<{ v: string | number }>();
  const current = Number(row?.v ?? 0);
  if (current > MIGRATIONS.length) {
    throw new Error(`ClickHouse schema version ${current} is newer than this program (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    for (const query of MIGRATIONS[v]?.(o) ?? []) await client.command({ query });
    await client.command({
      query: `INSERT INTO ${ident(o.database)}.schema_version (version, applied_ms) VALUES (${int(v + 1)}, ${int(Date.now())})`,
    });
  }
  return MIGRATIONS.length;
}
