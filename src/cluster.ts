import type { Backend } from "./backend.js";
import type { ClusterConfig, Config } from "./config.js";
import type { Logger } from "./log.js";

/** Cluster mode: ingest into a NATS JetStream log, writers drain it into ClickHouse, queries read ClickHouse. */
export async function openClusterBackend(_config: Config, _cluster: ClusterConfig, _log: Logger): Promise<Backend> {
  throw new Error("cluster mode: under construction");
}
