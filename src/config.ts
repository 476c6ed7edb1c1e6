import { DEFAULT_THRESHOLDS, parseThresholds, type Thresholds } from "./domain/thresholds.js";

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
  /** "info" writes one JSON line per call to stderr; "off" writes only start-up and errors. */
  log: "info" | "off";
  /** The classifier's judgement thresholds. */
  rules: Thresholds;
}

export const DEFAULTS = {
  CRAWLDIAG_ADDRESS: "127.0.0.1:50051",
  CRAWLDIAG_DB: "data/crawldiag.db",
  CRAWLDIAG_RETENTION_DAYS: "90",
  CRAWLDIAG_MAX_BATCH: "5000",
  CRAWLDIAG_SYNC: "FULL",
  CRAWLDIAG_SHUTDOWN_GRACE_MS: "10000",
  CRAWLDIAG_LOG: "info",
  CRAWLDIAG_RULES: "{}",
} as const;

type Name = keyof typeof DEFAULTS;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Reads and validates the configuration; a bad value throws a ConfigError naming the variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const get = (name: Name): string => {
    const v = env[name];
    return v === undefined || v === "" ? DEFAULTS[name] : v;
  };
  return {
    address: address(get("CRAWLDIAG_ADDRESS")),
    dbPath: get("CRAWLDIAG_DB"),
    retentionDays: integer("CRAWLDIAG_RETENTION_DAYS", get("CRAWLDIAG_RETENTION_DAYS"), 0, 36_500),
    maxBatch: integer("CRAWLDIAG_MAX_BATCH", get("CRAWLDIAG_MAX_BATCH"), 1, 100_000),
    sync: oneOf("CRAWLDIAG_SYNC", get("CRAWLDIAG_SYNC").toUpperCase(), ["FULL", "NORMAL"] as const),
    shutdownGraceMs: integer("CRAWLDIAG_SHUTDOWN_GRACE_MS", get("CRAWLDIAG_SHUTDOWN_GRACE_MS"), 0, 600_000),
    log: oneOf("CRAWLDIAG_LOG", get("CRAWLDIAG_LOG").toLowerCase(), ["info", "off"] as const),
    rules: rules(get("CRAWLDIAG_RULES")),
  };
}

function integer(name: Name, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < min || n > max) {
    throw new ConfigError(`${name}: "${raw}" is not a whole number from ${min} to ${max}`);
  }
  return n;
}

function oneOf<T extends string>(name: Name, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}: "${raw}" is not one of ${allowed.join(", ")}`);
  }
  return raw as T;
}

function address(raw: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(raw) || Number(raw.split(":").pop()) > 65535) {
    throw new ConfigError(`CRAWLDIAG_ADDRESS: "${raw}" is not host:port (for example 127.0.0.1:50051)`);
  }
  return raw;
}

function rules(raw: string): Thresholds {
  if (raw === DEFAULTS.CRAWLDIAG_RULES) return DEFAULT_THRESHOLDS;
  try {
    return parseThresholds(raw);
  } catch (e) {
    throw new ConfigError(`CRAWLDIAG_RULES: ${(e as Error).message}`);
  }
}
