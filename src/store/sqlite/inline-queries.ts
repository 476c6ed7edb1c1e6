import { DiagnosisCache, type StoreChanges } from "../../domain/diagnosis-cache.js";
import { lightHostDiagnosis } from "../../domain/listing.js";
import type { QueryInput, QueryName, QueryOutput, QueryRunner, ReadContext } from "../../domain/queries.js";
import type { Thresholds } from "../../domain/thresholds.js";
import { type Db, openDb } from "./db.js";
import type { ReadPool } from "./read-pool.js";
import { Reader } from "./reader.js";

// About 2 µs a detail fetch read: a light host's diagnosis holds up the gRPC thread for 2-3 ms at most.
const INLINE_MAX_DETAIL = 1000;

/**
 * The queries: GetHostDiagnosis of a host with few detail fetches (most hosts) is answered on the gRPC thread,
 * with a connection and a cache of its own; everything else goes to the read worker (read-pool.ts). Handing a
 * call to the worker and back costs two thread wake-ups, on a busy machine more than the read itself.
 */
export class InlineQueries implements QueryRunner {
  private readonly db: Db;
  private readonly ctx: ReadContext;

  constructor(
    private readonly pool: ReadPool,
    dbPath: string,
    rules: Thresholds,
  ) {
    this.db = openDb(dbPath, { sync: "NORMAL", readonly: true });
    this.ctx = { store: new Reader(this.db), rules, cache: new DiagnosisCache() };
  }

  async run<N extends QueryName>(name: N, input: QueryInput<N>, nowMs: number): Promise<QueryOutput<N>> {
    if (name === "hostDiagnosis") {
      const q = input as QueryInput<"hostDiagnosis">;
      const d = await lightHostDiagnosis(this.ctx, q.host, q.window, nowMs, INLINE_MAX_DETAIL);
      if (d !== undefined) return d as QueryOutput<N>;
    }
    return this.pool.run(name, input, nowMs);
  }

  /** What the writer changed, for both caches: before the writes are acknowledged (see ReadPool.changed). */
  changed(changes: StoreChanges | "all"): void {
    if (changes === "all") this.ctx.cache.clear();
    else this.ctx.cache.changed(changes);
    this.pool.changed(changes);
  }

  async close(): Promise<void> {
    await this.pool.close();
    this.db.close();
  }
}
