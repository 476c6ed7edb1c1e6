import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { type ClusterConfig, clusterConfig } from "./config-cluster.js";
import { address, ConfigError, integer, oneOf } from "./config-values.js";
import { AuthTable } from "./domain/auth.js";
import { DEFAULT_THRESHOLDS, parseThresholds, type Thresholds } from "./domain/thresholds.js";
import type { TlsMaterial } from "./grpc/tls.js";

/** Every setting of the service, read from the environment once at start-up. Defaults live here only. */
export interface Config {
  /** host:port to listen on. */
  address: string;
  /** SQLite database file; its folder is created. */
  dbPath: string;
  /** Days of data kept; 0 keeps everything. */
  retentionDays: number;
  /** Most records in one RecordFetches call. */
  maxBatch: number;
  /** SQLite synchronous mode: FULL survives a power cut, NORMAL only a process crash. */
  sync: "FULL" | "NORMAL";
  /** Longest wait for in-flight calls at shutdown. */
  shutdownGraceMs: number;
  /** Most records waiting for their commit; a batch that does not fit is refused with UNAVAILABLE. */
  queueRecords: number;
  /** Storage quota (database and WAL) in MiB, 0 for none; past it ingest answers RESOURCE_EXHAUSTED. */
  maxDbMb: number;
  /** "info" writes one JSON line per call to stderr; "off" writes only start-up, shutdown and errors. */
  log: "info" | "off";
  /** The classifier's judgement thresholds. */
  rules: Thresholds;
  /** The auth file and its parsed table; undefined = no authentication (loopback, or explicitly allowed). */
  auth: { file: string; table: AuthTable } | undefined;
  /** Certificate, key and optional client CA (mTLS) as PEM, and their files (re-read on SIGHUP); undefined = plaintext. */
  tls: (TlsMaterial & { files: TlsFiles }) | undefined;
  /** host:port of the Prometheus /metrics listener; undefined = off. */
  metricsAddress: string | undefined;
  /** Records a second each client may send (fair sharing), unless the auth file gives it its own; 0 = no limit. */
  clientRecordsPerS: number;
  /** Cluster mode (ClickHouse behind a NATS JetStream log); undefined = the embedded SQLite store. */
  cluster: ClusterConfig | undefined;
}

/** Paths of the TLS files, as configured. */
export interface TlsFiles {
  cert: string;
  key: string;
  clientCa: string | undefined;
}

export const DEFAULTS = {
  CRAWLDIAG_ADDRESS: "127.0.0.1:50051",
  CRAWLDIAG_DB: "data/crawldiag.db",
  CRAWLDIAG_RETENTION_DAYS: "90",
  CRAWLDIAG_MAX_BATCH: "5000",
  CRAWLDIAG_SYNC: "FULL",
  CRAWLDIAG_SHUTDOWN_GRACE_MS: "10000",
  CRAWLDIAG_QUEUE_RECORDS: "20000",
  CRAWLDIAG_MAX_DB_MB: "0",
  CRAWLDIAG_LOG: "info",
  CRAWLDIAG_RULES: "{}",
  CRAWLDIAG_AUTH_FILE: "",
  CRAWLDIAG_ALLOW_UNAUTHENTICATED: "0",
  CRAWLDIAG_TLS_CERT: "",
  CRAWLDIAG_TLS_KEY: "",
  CRAWLDIAG_TLS_CLIENT_CA: "",
  CRAWLDIAG_METRICS_ADDRESS: "",
  // No limit: the right figure depends on the disk and on how many fleets share the service (see README).
  CRAWLDIAG_CLIENT_RECORDS_PER_S: "0",
  CRAWLDIAG_CLICKHOUSE_URL: "",
  CRAWLDIAG_NATS_URL: "",
  CRAWLDIAG_CLICKHOUSE_CLUSTER: "",
  CRAWLDIAG_CLICKHOUSE_REPLICATED: "0",
  CRAWLDIAG_NATS_REPLICAS: "1",
  CRAWLDIAG_NATS_MAX_MB: "1024",
  CRAWLDIAG_ROLES: "ingest,query,writer",
} as const;

type Name = keyof typeof DEFAULTS;

export type { ClusterConfig, Role } from "./config-cluster.js";
export { ROLES } from "./config-cluster.js";
export { ConfigError };

/** Reads and validates the configuration; a bad value throws a ConfigError naming the variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const get = (name: Name): string => {
    const v = env[name];
    return v === undefined || v === "" ? DEFAULTS[name] : v;
  };
  return {
    address: address("CRAWLDIAG_ADDRESS", get("CRAWLDIAG_ADDRESS")),
    dbPath: get("CRAWLDIAG_DB"),
    retentionDays: integer("CRAWLDIAG_RETENTION_DAYS", get("CRAWLDIAG_RETENTION_DAYS"), 0, 36_500),
    maxBatch: integer("CRAWLDIAG_MAX_BATCH", get("CRAWLDIAG_MAX_BATCH"), 1, 100_000),
    sync: oneOf("CRAWLDIAG_SYNC", get("CRAWLDIAG_SYNC").toUpperCase(), ["FULL", "NORMAL"] as const),
    shutdownGraceMs: integer("CRAWLDIAG_SHUTDOWN_GRACE_MS", get("CRAWLDIAG_SHUTDOWN_GRACE_MS"), 0, 600_000),
    queueRecords: integer("CRAWLDIAG_QUEUE_RECORDS", get("CRAWLDIAG_QUEUE_RECORDS"), 1, 10_000_000),
    maxDbMb: integer("CRAWLDIAG_MAX_DB_MB", get("CRAWLDIAG_MAX_DB_MB"), 0, 100_000_000),
    log: oneOf("CRAWLDIAG_LOG", get("CRAWLDIAG_LOG").toLowerCase(), ["info", "off"] as const),
    rules: rules(get("CRAWLDIAG_RULES")),
    auth: auth(get("CRAWLDIAG_ADDRESS"), get("CRAWLDIAG_AUTH_FILE"), get("CRAWLDIAG_ALLOW_UNAUTHENTICATED")),
    tls: tls(get),
    metricsAddress:
      get("CRAWLDIAG_METRICS_ADDRESS") === ""
        ? undefined
        : address("CRAWLDIAG_METRICS_ADDRESS", get("CRAWLDIAG_METRICS_ADDRESS")),
    clientRecordsPerS: integer("CRAWLDIAG_CLIENT_RECORDS_PER_S", get("CRAWLDIAG_CLIENT_RECORDS_PER_S"), 0, 10_000_000),
    cluster: clusterConfig(get),
  };
}

function rules(raw: string): Thresholds {
  if (raw === DEFAULTS.CRAWLDIAG_RULES) return DEFAULT_THRESHOLDS;
  try {
    return parseThresholds(raw);
  } catch (e) {
    throw new ConfigError(`CRAWLDIAG_RULES: ${(e as Error).message}`);
  }
}

/** Reads and checks the auth file: at start-up, and again on SIGHUP to rotate tokens without a restart. */
export function loadAuthFile(path: string): AuthTable {
  const text = readFile("CRAWLDIAG_AUTH_FILE", path).toString("utf8");
  try {
    return AuthTable.parse(text);
  } catch (e) {
    throw new ConfigError(`CRAWLDIAG_AUTH_FILE: "${path}": ${(e as Error).message}`);
  }
}

function auth(listen: string, file: string, allowRaw: string): Config["auth"] {
  const allow = oneOf("CRAWLDIAG_ALLOW_UNAUTHENTICATED", allowRaw, ["0", "1"] as const);
  if (file !== "") return { file, table: loadAuthFile(file) };
  // Off loopback anyone on the network could write and read: that has to be asked for by name.
  if (allow === "0" && !isLoopback(listen)) {
    throw new ConfigError(
      `CRAWLDIAG_AUTH_FILE: required to listen on ${listen}, which is not a loopback address ` +
        "(set CRAWLDIAG_ALLOW_UNAUTHENTICATED=1 to serve it without authentication)",
    );
  }
  return undefined;
}

function isLoopback(listen: string): boolean {
  const host = listen
    .slice(0, listen.lastIndexOf(":"))
    .replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "localhost" || host === "::1" || /^::ffff:127\./.test(host);
}

function tls(get: (name: Name) => string): Config["tls"] {
  const certPath = get("CRAWLDIAG_TLS_CERT");
  const keyPath = get("CRAWLDIAG_TLS_KEY");
  const caPath = get("CRAWLDIAG_TLS_CLIENT_CA");
  if (certPath === "" && keyPath === "") {
    if (caPath !== "") throw new ConfigError("CRAWLDIAG_TLS_CLIENT_CA: needs CRAWLDIAG_TLS_CERT and CRAWLDIAG_TLS_KEY");
    return undefined;
  }
  if (certPath === "") throw new ConfigError("CRAWLDIAG_TLS_CERT: required with CRAWLDIAG_TLS_KEY");
  if (keyPath === "") throw new ConfigError("CRAWLDIAG_TLS_KEY: required with CRAWLDIAG_TLS_CERT");
  const files = { cert: certPath, key: keyPath, clientCa: caPath === "" ? undefined : caPath };
  return { ...loadTlsFiles(files), files };
}

/**
 * Reads and checks the TLS files: at start-up, and again on SIGHUP to replace the certificate without a restart.
 * A wrong file throws a ConfigError naming its variable; messages never contain key material.
 */
export function loadTlsFiles({ cert: certPath, key: keyPath, clientCa: caPath }: TlsFiles): TlsMaterial {
  const cert = readFile("CRAWLDIAG_TLS_CERT", certPath);
  const key = readFile("CRAWLDIAG_TLS_KEY", keyPath);
  const clientCa = caPath === undefined ? undefined : readFile("CRAWLDIAG_TLS_CLIENT_CA", caPath);
  // Checked here so a wrong file stops start-up with its variable's name, not a TLS error at the first call.
  const leaf = certificate("CRAWLDIAG_TLS_CERT", certPath, cert);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    // The parser's message could quote key material; it is not passed on.
    throw new ConfigError(`CRAWLDIAG_TLS_KEY: "${keyPath}" is not an unencrypted PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ConfigError(`CRAWLDIAG_TLS_KEY: "${keyPath}" is not the key of the certificate in CRAWLDIAG_TLS_CERT`);
  }
  if (clientCa !== undefined) certificate("CRAWLDIAG_TLS_CLIENT_CA", caPath ?? "", clientCa);
  return { cert, key, clientCa };
}

function certificate(name: Name, path: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ConfigError(`${name}: "${path}" is not a PEM certificate`);
  }
}

function readFile(name: Name, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(`${name}: cannot read "${path}" (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
}
