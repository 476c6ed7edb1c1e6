import { type Config, loadAuthFile } from "./config.js";
import { startServer } from "./grpc/server.js";
import type { Logger } from "./log.js";
import { ReadPool } from "./read-pool.js";
import { openDb } from "./store/db.js";
import { WriteQueue } from "./write-queue.js";

const PURGE_EVERY_MS = 3_600_000;

export interface App {
  port: number;
  close(): Promise<void>;
  /** Re-reads the auth file (on SIGHUP); a broken file leaves the current one in force and logs why. */
  reloadAuth(): void;
}

/** Opens the store, purges old data, and serves until close(). */
export async function startApp(config: Config, log: Logger, now: () => number = Date.now): Promise<App> {
  // Brings the schema up to date before the workers open their own connections: one writes, one answers queries.
  openDb(config.dbPath, { sync: config.sync }).close();
  const [writes, reads] = await Promise.all([
    WriteQueue.start(
      {
        dbPath: config.dbPath,
        sync: config.sync,
        maxBatch: config.maxBatch,
        retentionDays: config.retentionDays,
        maxBytes: config.maxDbMb * 1024 * 1024,
      },
      config.queueRecords,
      log,
    ),
    ReadPool.start({ dbPath: config.dbPath, sync: config.sync, cacheMb: 16, rules: config.rules }, log),
  ]);
  // Cached diagnoses hear of every commit before its batches are acknowledged.
  writes.onChanges((changes) => reads.changed(changes));
  const runPurge = async () => log.notice("purged", { ...(await writes.purge(now())) });
  await runPurge();
  const timer = setInterval(runPurge, PURGE_EVERY_MS);
  timer.unref();
  // Calls read the table through this holder, so a reload swaps it for every later call at once.
  const auth = config.auth === undefined ? undefined : { ...config.auth };
  const server = await startServer({
    auth: auth && (() => auth.table),
    tls: config.tls,
    address: config.address,
    maxBatch: config.maxBatch,
    writer: writes,
    queries: reads,
    log,
    now,
  });
  log.notice("listening", {
    address: config.address,
    port: server.port,
    db: config.dbPath,
    sync: config.sync,
    auth: auth === undefined ? "off" : `${auth.table.size} clients`,
    tls: config.tls === undefined ? "off" : config.tls.clientCa === undefined ? "on" : "mutual",
  });
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    close: () => {
      closing ??= (async () => {
        clearInterval(timer);
        await server.shutdown(config.shutdownGraceMs);
        await Promise.all([writes.close(), reads.close()]);
        log.notice("stopped");
      })();
      return closing;
    },
    reloadAuth: () => {
      if (auth === undefined) {
        log.notice("no auth file to reload");
        return;
      }
      try {
        auth.table = loadAuthFile(auth.file);
        log.notice("auth file reloaded", { clients: auth.table.size });
      } catch (e) {
        log.error("auth file not reloaded; the previous one stays in force", { error: (e as Error).message });
      }
    },
  };
}
