import { statSync } from "node:fs";
import { join } from "node:path";
import { cpuMs, startProcess } from "./processes.js";

/** The service under test, as bench/run.ts drives it: SQLite in one process, or a cluster (bench/cluster.ts). */
export interface Service {
  kind: "sqlite" | "cluster";
  /** Where batches and queries go. */
  port: number;
  /** Current and peak resident memory of the crawldiag process(es), MiB (summed over a cluster's nodes). */
  rssMb(): number;
  peakRssMb(): number;
  /**
   * Resolves once everything acknowledged is stored and visible to queries: at once for SQLite (a batch is
   * answered after its commit), when the log's backlog is empty for a cluster.
   */
  settle(): Promise<void>;
  /** Bytes on disk: the store proper, and the log beside it (the WAL for SQLite, JetStream for a cluster). */
  storedBytes(): Promise<{ store: number; log: number }>;
  /** CPU ms used so far by each process of the service, by program ("crawldiag" summed over nodes). */
  cpuMs(): Record<string, number>;
  /** Peak RSS of the servers the service needs besides its own processes (ClickHouse, NATS), MiB. */
  serversRssMb(): Record<string, number>;
  stop(): Promise<void>;
}

/** The default server: one process on a SQLite file in `dir`. */
export async function startSqliteService(script: string, dir: string, nodeArgs: string[]): Promise<Service> {
  const db = join(dir, "crawldiag.db");
  const server = await startProcess(script, { CRAWLDIAG_DB: db }, nodeArgs);
  const size = (f: string) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  return {
    kind: "sqlite",
    port: server.port,
    rssMb: server.rssMb,
    peakRssMb: server.peakRssMb,
    settle: async () => {},
    storedBytes: async () => ({ store: size(db), log: size(`${db}-wal`) }),
    serversRssMb: () => ({}),
    cpuMs: () => ({ crawldiag: cpuMs(server.child.pid ?? 0) }),
    stop: server.stop,
  };
}
