import { X509Certificate } from "node:crypto";
import { statSync } from "node:fs";
import { type Config, ConfigError, loadAuthFile, loadTlsFiles } from "./config.js";
import { ClientBudgets } from "./domain/token-bucket.js";
import { startServer } from "./grpc/server.js";
import { serverTls } from "./grpc/tls.js";
import type { Logger } from "./log.js";
import { Metrics } from "./metrics.js";
import { type MetricsListener, serveMetrics } from "./metrics-http.js";
import { openDb } from "./store/sqlite/db.js";
import { ReadPool } from "./store/sqlite/read-pool.js";
import { WriteQueue } from "./store/sqlite/write-queue.js";

const PURGE_EVERY_MS = 3_600_000;

export interface App {
  port: number;
  /** Port of the /metrics listener; undefined when CRAWLDIAG_METRICS_ADDRESS is not set. */
  metricsPort: number | undefined;
  close(): Promise<void>;
  /**
   * Re-reads the auth file and the TLS certificate, key and client CA (on SIGHUP). A broken file leaves the
   * current one in force and logs why.
   */
  reload(): void;
}

/** Opens the store, purges old data, and serves until close(). */
export async function startApp(config: Config, log: Logger, now: () => number = Date.now): Promise<App> {
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
  const metrics = new Metrics();
  writes.onCommitted((g) => metrics.committed(g));
  metrics.watch({
    queuedRecords: () => writes.queuedRecords,
    queueCapacity: writes.capacityRecords,
    storeBytes: () => fileBytes(config.dbPath) + fileBytes(`${config.dbPath}-wal`),
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
  // Calls read the table through this holder, so a reload swaps it for every later call at once.
  const auth = config.auth === undefined ? undefined : { ...config.auth };
  const tls = config.tls === undefined ? undefined : serverTls(config.tls);
  const server = await startServer({
    auth: auth && (() => auth.table),
    credentials: tls?.credentials,
    address: config.address,
    maxBatch: config.maxBatch,
    writer: writes,
    queries: reads,
    log,
    now,
    metrics,
    budgets: new ClientBudgets(config.clientRecordsPerS),
  });
  let listener: MetricsListener | undefined;
  if (config.metricsAddress !== undefined) {
    metrics.withProcessMetrics();
    listener = await serveMetrics(config.metricsAddress, metrics.registry);
  }
  log.notice("listening", {
    address: config.address,
    port: server.port,
    db: config.dbPath,
    sync: config.sync,
    auth: auth === undefined ? "off" : `${auth.table.size} clients`,
    tls: config.tls === undefined ? "off" : config.tls.clientCa === undefined ? "on" : "mutual",
    metrics: listener === undefined ? "off" : { address: config.metricsAddress, port: listener.port },
    clientRecordsPerS: config.clientRecordsPerS === 0 ? "no limit" : config.clientRecordsPerS,
  });
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    metricsPort: listener?.port,
    close: () => {
      closing ??= (async () => {
        clearInterval(timer);
        await server.shutdown(config.shutdownGraceMs);
        await Promise.all([writes.close(), reads.close(), listener?.close()]);
        log.notice("stopped");
      })();
      return closing;
    },
    reload: () => {
      if (auth === undefined) log.notice("no auth file to reload");
      else {
        try {
          auth.table = loadAuthFile(auth.file);
          log.notice("auth file reloaded", { clients: auth.table.size });
        } catch (e) {
          log.error("auth file not reloaded; the previous one stays in force", { error: (e as Error).message });
        }
      }
      if (config.tls === undefined || tls === undefined) return;
      try {
        const material = loadTlsFiles(config.tls.files);
        tls.replace(material);
        const cert = new X509Certificate(material.cert);
        log.notice("TLS certificate reloaded", { fingerprint256: cert.fingerprint256, validTo: cert.validTo });
      } catch (e) {
        // config.ts words its errors without key material; TLS's own errors are not passed on, in case they quote it.
        const error = e instanceof ConfigError ? e.message : "TLS could not use the new certificate, key or client CA";
        log.error("TLS certificate not reloaded; the previous one stays in force", { error });
      }
    },
  };
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    // No such file (a WAL not made yet): nothing to count.
    return 0;
  }
}
