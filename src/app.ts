import { X509Certificate } from "node:crypto";
import type { Backend, BackendStatus } from "./backend.js";
import { type Config, ConfigError, loadAuthFile, loadTlsFiles } from "./config.js";
import { ClientBudgets } from "./domain/token-bucket.js";
import { DIAGNOSIS_SERVICE, INGEST_SERVICE, type RunningServer, startServer } from "./grpc/server.js";
import { serverTls } from "./grpc/tls.js";
import type { Logger } from "./log.js";
import { Metrics } from "./metrics.js";
import { type MetricsListener, serveMetrics } from "./metrics-http.js";

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

/** Opens the store (SQLite, or the cluster's log and ClickHouse), and serves until close(). */
export async function startApp(config: Config, log: Logger, now: () => number = Date.now): Promise<App> {
  const metrics = new Metrics();
  const backend: Backend =
    config.cluster === undefined
      ? await (await import("./store/sqlite/backend.js")).openSqliteBackend(config, log, metrics, now)
      : await (await import("./cluster.js")).openClusterBackend(config, config.cluster, log);
  // Calls read the table through this holder, so a reload swaps it for every later call at once.
  const auth = config.auth === undefined ? undefined : { ...config.auth };
  const tls = config.tls === undefined ? undefined : serverTls(config.tls);
  const server = await startServer({
    auth: auth && (() => auth.table),
    credentials: tls?.credentials,
    address: config.address,
    maxBatch: config.maxBatch,
    writer: backend.ingest,
    queries: backend.queries,
    status: backend,
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
  const stopWatching = config.cluster === undefined ? () => {} : watchHealth(backend, server, log);
  const status = await backend.status();
  log.notice("listening", {
    address: config.address,
    port: server.port,
    store: status.store,
    location: status.location,
    roles: status.roles,
    ...(config.cluster === undefined ? { sync: config.sync } : {}),
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
        stopWatching();
        await server.shutdown(config.shutdownGraceMs);
        await Promise.all([backend.close(), listener?.close()]);
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

/**
 * Health follows the backing systems in cluster mode: IngestService needs the log, DiagnosisService the store.
 * Checked every 2 s, so a load balancer stops sending calls a node could only refuse.
 */
function watchHealth(backend: Backend, server: RunningServer, log: Logger): () => void {
  let last = "";
  const check = async () => {
    let reachable: BackendStatus["reachable"];
    try {
      reachable = (await backend.status()).reachable;
    } catch {
      reachable = { store: false, log: false };
    }
    server.setServing(INGEST_SERVICE, reachable.log !== false);
    server.setServing(DIAGNOSIS_SERVICE, reachable.store);
    const now = JSON.stringify(reachable);
    if (now !== last && last !== "") log.notice("backing systems", { ...reachable });
    last = now;
  };
  const timer = setInterval(check, 2000);
  timer.unref();
  void check();
  return () => clearInterval(timer);
}
