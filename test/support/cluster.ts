import { credentials } from "@grpc/grpc-js";
import { startClickHouse, type TestClickHouse } from "../../src/dev/clickhouse-server.js";
import { startNats, type TestNats } from "../../src/dev/nats-server.js";
import { StatusServiceClient } from "../../src/gen/webmasterid/crawldiag/v1/status.js";
import { call } from "./client.js";
import { startTestServer, type TestServer } from "./server.js";

export interface TestCluster {
  nats: TestNats;
  clickhouse: TestClickHouse;
  /** A crawldiag node in cluster mode on this ClickHouse database (env adds to or overrides the settings). */
  node(database: string, env?: Record<string, string>): Promise<ClusterNode>;
  close(): Promise<void>;
}

export interface ClusterNode extends TestServer {
  status: StatusServiceClient;
  /** Resolves once the log holds nothing the writers have not stored. */
  drained(timeoutMs?: number): Promise<void>;
}

/** Real NATS (JetStream) and ClickHouse servers, started for a test file. */
export async function startCluster(opts: { natsNodes?: 1 | 3 } = {}): Promise<TestCluster> {
  const [nats, clickhouse] = await Promise.all([startNats({ nodes: opts.natsNodes ?? 1 }), startClickHouse()]);
  return {
    nats,
    clickhouse,
    node: async (database, env = {}) => {
      const s = await startTestServer({
        CRAWLDIAG_CLICKHOUSE_URL: `${clickhouse.url}/${database}`,
        CRAWLDIAG_NATS_URL: nats.urls.join(","),
        ...env,
      });
      const status = new StatusServiceClient(`127.0.0.1:${s.port}`, credentials.createInsecure());
      return {
        ...s,
        status,
        drained: (timeoutMs = 20_000) => drained(status, timeoutMs),
        stop: async () => {
          status.close();
          await s.stop();
        },
        close: async () => {
          status.close();
          await s.close();
        },
      };
    },
    close: async () => {
      await Promise.all([nats.stop(), clickhouse.close()]);
    },
  };
}

async function drained(status: StatusServiceClient, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await call(status.getServiceStatus, status, {});
    if (s.logReachable && s.backlogBatches === 0) return;
    if (Date.now() > until) throw new Error(`the log still holds ${s.backlogBatches} batches`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
