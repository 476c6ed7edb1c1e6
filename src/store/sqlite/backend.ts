import { statSync } from "node:fs";
import type { Backend } from "../../backend.js";
import type { Config } from "../../config.js";
import type { Logger } from "../../log.js";
import type { Metrics } from "../../metrics.js";
import { openDb } from "./db.js";
import { ReadPool } from "./read-pool.js";
import { WriteQueue } from "./write-queue.js";

const PURGE_EVERY_MS = 3_600_000;

/** The embedded default: one SQLite file, one write worker behind a bounded queue, one read worker. */
export async function openSqliteBackend(config: Config, log: Logger, metrics: Metrics, now: () => number) {
  // Brings the schema up to date before the workers open their own connections: one writes, one answers queries.
  openDb(config.dbPath, { sync: config.sync }).close();
  const maxBytes = config.maxDbMb * 1024 * 1024;
  const [writes, reads] = await Promise.all([
    WriteQueue.start(
      {
        dbPath: config.dbPath,
        sync: config.sync,
        maxBatch: config.maxBatch,
        retentionDays: config.retentionDays,
        maxBytes,
      },
      config.queueRecords,
      log,
    ),
    ReadPool.start({ dbPath: config.dbPath, sync: config.sync, cacheMb: 16, rules: config.rules }, log),
  ]);
  // Cached diagnoses hear of every commit before its batches are acknowledged.
  writes.onChanges((changes) => reads.changed(changes));
  writes.onCommitted((g) => metrics.committed(g));
  const storeBytes = () => fileBytes(config.dbPath) + fileBytes(`${config.dbPath}-wal`);
  metrics.watch({
    queuedRecords: () => writes.queuedRecords,
    queueCapacity: writes.capacityRecords,
    storeBytes,
    quotaBytes: maxBytes,
  });
  const runPurge = async () => {
    const counts = await writes.purge(now());
    metrics.purged(counts);
    log.notice("purged", { ...counts });
  };
  await runPurge();
  const timer = setInterval(runPurge, PURGE_EVERY_MS);
  timer.unref();
  const backend: Backend = {
    ingest: writes,
    queries: reads,
    status: async () => ({
      store: "sqlite",
      location: config.dbPath,
      roles: ["ingest", "query", "writer"],
      storeBytes: storeBytes(),
      backlogBatches: writes.queuedBatches,
      backlogRecords: writes.queuedRecords,
      writerLagSeconds: writes.lagSeconds(),
      reachable: { store: true, log: undefined },
    }),
    close: async () => {
      clearInterval(timer);
      await Promise.all([writes.close(), reads.close()]);
    },
  };
  return backend;
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    // No such file (a WAL not made yet): nothing to count.
    return 0;
  }
}
