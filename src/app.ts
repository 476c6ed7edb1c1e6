import type { Config } from "./config.js";
import { startServer } from "./grpc/server.js";
import type { Logger } from "./log.js";
import { openDb } from "./store/db.js";
import { Reader } from "./store/reader.js";
import { purge } from "./store/retention.js";
import { Writer } from "./store/writer.js";

const PURGE_EVERY_MS = 3_600_000;

export interface App {
  port: number;
  close(): Promise<void>;
}

/** Opens the store, purges old data, and serves until close(). */
export async function startApp(config: Config, log: Logger, now: () => number = Date.now): Promise<App> {
  const db = openDb(config.dbPath, { sync: config.sync });
  const runPurge = () => {
    const removed = purge(db, now(), config.retentionDays);
    log.info("purged", removed);
  };
  runPurge();
  const timer = setInterval(runPurge, PURGE_EVERY_MS);
  timer.unref();
  const server = await startServer({
    address: config.address,
    maxBatch: config.maxBatch,
    retentionDays: config.retentionDays,
    rules: config.rules,
    writer: new Writer(db),
    reader: new Reader(db),
    log,
    now,
  });
  log.info("listening", { address: config.address, port: server.port, db: config.dbPath, sync: config.sync });
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    close: () => {
      closing ??= (async () => {
        clearInterval(timer);
        await server.shutdown(config.shutdownGraceMs);
        db.close();
        log.info("stopped");
      })();
      return closing;
    },
  };
}
