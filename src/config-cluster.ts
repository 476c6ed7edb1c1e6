// Cluster mode's settings: read with the rest of the configuration (config.ts), checked here.
import { ConfigError, integer, oneOf } from "./config-values.js";

export type Role = "ingest" | "query" | "writer";
export const ROLES: readonly Role[] = ["ingest", "query", "writer"];

export interface ClusterConfig {
  /** http(s)://[user:password@]host:port/database */
  clickhouseUrl: string;
  /** NATS seed servers. */
  natsUrls: string[];
  /** The ClickHouse cluster (remote_servers) for ON CLUSTER tables and Distributed ones; undefined = one server. */
  clickhouseCluster: string | undefined;
  /** Replicated* local tables ({shard}/{replica} macros). */
  replicated: boolean;
  /** Copies of the stream and the key-value buckets. */
  natsReplicas: number;
  /** Most bytes of batches the log holds for the writers; past it ingest answers UNAVAILABLE (writers behind). */
  natsMaxBytes: number;
  roles: ReadonlySet<Role>;
}

type ClusterName =
  | "CRAWLDIAG_CLICKHOUSE_URL"
  | "CRAWLDIAG_NATS_URL"
  | "CRAWLDIAG_CLICKHOUSE_CLUSTER"
  | "CRAWLDIAG_CLICKHOUSE_REPLICATED"
  | "CRAWLDIAG_NATS_REPLICAS"
  | "CRAWLDIAG_NATS_MAX_MB"
  | "CRAWLDIAG_ROLES";

/** Cluster mode's settings, or undefined for the embedded SQLite store. */
export function clusterConfig(get: (name: ClusterName) => string): ClusterConfig | undefined {
  const clickhouse = get("CRAWLDIAG_CLICKHOUSE_URL");
  const nats = get("CRAWLDIAG_NATS_URL");
  if (clickhouse === "" && nats === "") return undefined;
  // Either one alone would silently fall back to SQLite, or run half a cluster: both or neither.
  if (clickhouse === "") throw new ConfigError("CRAWLDIAG_CLICKHOUSE_URL: required with CRAWLDIAG_NATS_URL");
  if (nats === "") throw new ConfigError("CRAWLDIAG_NATS_URL: required with CRAWLDIAG_CLICKHOUSE_URL");
  let url: URL;
  try {
    url = new URL(clickhouse);
  } catch {
    url = new URL("invalid:");
  }
  if (!["http:", "https:"].includes(url.protocol) || !/^\/[A-Za-z0-9_]+$/.test(url.pathname)) {
    // The URL may hold a password: the message names its shape, not its text.
    throw new ConfigError(
      "CRAWLDIAG_CLICKHOUSE_URL: not http(s)://[user:password@]host:port/database (database: letters, digits, _)",
    );
  }
  const natsUrls = nats.split(",").map((u) => u.trim());
  for (const u of natsUrls) {
    if (!/^(nats|tls):\/\/[^\s,]+$|^[A-Za-z0-9.-]+:[0-9]{1,5}$/.test(u)) {
      throw new ConfigError(`CRAWLDIAG_NATS_URL: "${u}" is not nats://host:port (several: comma-separated)`);
    }
  }
  const clusterName = get("CRAWLDIAG_CLICKHOUSE_CLUSTER");
  if (clusterName !== "" && !/^[A-Za-z0-9_]{1,64}$/.test(clusterName)) {
    throw new ConfigError(`CRAWLDIAG_CLICKHOUSE_CLUSTER: "${clusterName}" is not a cluster name (letters, digits, _)`);
  }
  const replicated = oneOf("CRAWLDIAG_CLICKHOUSE_REPLICATED", get("CRAWLDIAG_CLICKHOUSE_REPLICATED"), ["0", "1"]);
  if (replicated === "1" && clusterName === "") {
    throw new ConfigError("CRAWLDIAG_CLICKHOUSE_REPLICATED: needs CRAWLDIAG_CLICKHOUSE_CLUSTER");
  }
  return {
    clickhouseUrl: clickhouse,
    natsUrls,
    clickhouseCluster: clusterName === "" ? undefined : clusterName,
    replicated: replicated === "1",
    natsReplicas: integer("CRAWLDIAG_NATS_REPLICAS", get("CRAWLDIAG_NATS_REPLICAS"), 1, 5),
    natsMaxBytes: integer("CRAWLDIAG_NATS_MAX_MB", get("CRAWLDIAG_NATS_MAX_MB"), 1, 100_000_000) * 1024 * 1024,
    roles: roles(get("CRAWLDIAG_ROLES")),
  };
}

function roles(raw: string): ReadonlySet<Role> {
  const out = new Set<Role>();
  for (const r of raw.split(",").map((x) => x.trim().toLowerCase())) {
    out.add(oneOf("CRAWLDIAG_ROLES", r, ROLES));
  }
  return out;
}
