import type { Backend, BackendStatus } from "./backend.js";
import type { ClusterConfig, Config } from "./config.js";
import type { Logger } from "./log.js";
import { ClickHouseQueries } from "./store/clickhouse/queries-runner.js";
import type { PreparedBatch } from "./store/clickhouse/raw.js";
import { ClickHouseStore } from "./store/clickhouse/store.js";
import { ThreadChecker } from "./store/nats/checker-thread.js";
import { Drainer, logBacklog } from "./store/nats/drain.js";
import { Handoff } from "./store/nats/handoff.js";
import { LogIngest } from "./store/nats/ingest.js";
import { connectLog } from "./store/nats/setup.js";

const PURGE_EVERY_MS = 3_600_000;
const RECONNECT_MS = 2000;
// A health check or status read that takes longer than this counts as "not reachable".
const PROBE_MS = 3000;

/**
 * Cluster mode: ingest nodes put batches in the NATS JetStream log and answer once it holds them; writer nodes
 * drain the log into ClickHouse; query nodes read ClickHouse. Each role is optional (CRAWLDIAG_ROLES). The log is
 * needed at start (no acknowledgement without it); ClickHouse may come up later: until then queries answer
 * UNAVAILABLE and the log keeps what ingest acknowledged.
 */
export async function openClusterBackend(config: Config, cluster: ClusterConfig, log: Logger): Promise<Backend> {
  const roles = cluster.roles;
  const nats = await connectLog(cluster.natsUrls, {
    replicas: cluster.natsReplicas,
    retentionDays: config.retentionDays,
    maxStreamBytes: cluster.natsMaxBytes,
  });
  const needsStore = roles.has("query") || roles.has("writer");
  const store = needsStore ? new StoreHolder(cluster, log) : undefined;
  // A node that both logs and drains batches stores them as its ingest validated and prepared them.
  const handoff = roles.has("ingest") && roles.has("writer") ? new Handoff<PreparedBatch>() : undefined;
  // Decoding and validating on a thread of their own: on the event loop they held up every NATS answer.
  const decodes = roles.has("ingest") || roles.has("writer");
  const checker = decodes ? new ThreadChecker<PreparedBatch>("cluster-ingest-worker") : undefined;
  await checker?.start();
  let drainer: Drainer<PreparedBatch> | undefined;
  let purgeTimer: NodeJS.Timeout | undefined;
  if (roles.has("writer") && store !== undefined) {
    // Started once ClickHouse answers; batches wait in the log meanwhile.
    store.whenOpen(async (s) => {
      drainer = new Drainer<PreparedBatch>(nats, s, log, { handoff, decoder: checker });
      await drainer.start();
      const purge = async () => {
        try {
          log.notice("purged", { ...(await s.purge(Date.now(), config.retentionDays)) });
        } catch (e) {
          log.error("purge failed; tried again in an hour", { error: String(e) });
        }
      };
      void purge();
      purgeTimer = setInterval(purge, PURGE_EVERY_MS);
      purgeTimer.unref();
    });
  }
  const ingest = roles.has("ingest")
    ? new LogIngest(nats, { maxBatch: config.maxBatch, retentionDays: config.retentionDays }, checker, handoff)
    : undefined;
  const queries =
    roles.has("query") && store !== undefined
      ? new ClickHouseQueries(() => store.current, config.rules, log)
      : undefined;
  const location = withoutCredentials(cluster.clickhouseUrl);
  return {
    ingest,
    queries,
    status: async (): Promise<BackendStatus> => {
      const [lag, storeUp] = await Promise.all([
        within(logBacklog(nats), PROBE_MS).catch(() => undefined),
        store === undefined ? Promise.resolve(true) : within(store.ping(), PROBE_MS).catch(() => false),
      ]);
      return {
        store: "clickhouse",
        location,
        roles: [...roles],
        storeBytes: undefined,
        backlogBatches: lag?.streamMessages ?? 0,
        backlogRecords: undefined,
        writerLagSeconds: lag === undefined ? 0 : lag.oldestAgeMs / 1000,
        reachable: { store: storeUp === true, log: lag !== undefined },
      };
    },
    close: async () => {
      clearInterval(purgeTimer);
      await drainer?.stop();
      await checker?.close();
      await store?.close();
      await nats.close();
    },
  };
}

/** The ClickHouse store once it could be opened; opening is retried in the background until it can. */
class StoreHolder {
  current: ClickHouseStore | undefined;
  private closed = false;
  private readonly waiting: ((s: ClickHouseStore) => Promise<void>)[] = [];

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly log: Logger,
  ) {
    void this.open();
  }

  whenOpen(fn: (s: ClickHouseStore) => Promise<void>): void {
    const run = (s: ClickHouseStore) =>
      fn(s).catch((e: unknown) => this.log.error("writer did not start", { error: String(e) }));
    if (this.current !== undefined) void run(this.current);
    else this.waiting.push(run);
  }

  async ping(): Promise<boolean> {
    return this.current === undefined ? false : this.current.ping();
  }

  private async open(): Promise<void> {
    let reported = false;
    while (!this.closed) {
      try {
        const s = await ClickHouseStore.open(this.cluster.clickhouseUrl, {
          cluster: this.cluster.clickhouseCluster,
          replicated: this.cluster.replicated,
        });
        if (this.closed) {
          await s.close();
          return;
        }
        this.current = s;
        if (reported) this.log.notice("ClickHouse reachable; schema up to date");
        for (const fn of this.waiting.splice(0)) await fn(s);
        return;
      } catch (e) {
        if (!reported) this.log.error("ClickHouse not reachable; trying again", { error: String(e) });
        reported = true;
        await new Promise((r) => setTimeout(r, RECONNECT_MS));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.current?.close();
  }
}

function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  return u.toString();
}

async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
