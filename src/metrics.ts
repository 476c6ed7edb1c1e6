import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CrawlerTally } from "./domain/ingest-tally.js";
import type { GroupCommitted, PurgeCounts } from "./store/sqlite/write-queue.js";

/** The label of crawler ids past MAX_CRAWLERS: parentheses never occur in a valid id. */
export const OTHER_CRAWLERS = "(other)";
// Crawler ids are the clients' choice: past this many distinct ones, the rest share one label, so that a client
// sending random ids cannot make the metrics grow without bound.
const MAX_CRAWLERS = 200;

const RPC_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RPC_LABELS = ["grpc_type", "grpc_service", "grpc_method", "grpc_code"] as const;
type RpcLabel = (typeof RPC_LABELS)[number];

/**
 * The service's Prometheus metrics, one registry per running service. RPC metrics are named and labelled as
 * go-grpc-prometheus names them, so existing dashboards work. No label carries a host name or anything about a
 * person: crawler ids, auth file client names, method names, status codes and record fields only.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly started = new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server.",
    labelNames: RPC_LABELS.slice(0, 3),
    registers: [this.registry],
  });
  private readonly handled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by status code.",
    labelNames: RPC_LABELS,
    registers: [this.registry],
  });
  private readonly handling = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Time from the start of an RPC to its status, by status code.",
    labelNames: RPC_LABELS,
    buckets: RPC_SECONDS,
    registers: [this.registry],
  });
  private readonly accepted = new Counter({
    name: "crawldiag_ingest_records_accepted_total",
    help: "Fetch records stored, per crawler id.",
    labelNames: ["crawler"],
    registers: [this.registry],
  });
  private readonly rejected = new Counter({
    name: "crawldiag_ingest_records_rejected_total",
    help: "Fetch records refused one by one, per crawler id and the field at fault.",
    labelNames: ["crawler", "field"],
    registers: [this.registry],
  });
  private readonly replayed = new Counter({
    name: "crawldiag_ingest_batches_replayed_total",
    help: "RecordFetches calls answered from an earlier commit of the same request_id (a retry).",
    registers: [this.registry],
  });
  private readonly throttledCalls = new Counter({
    name: "crawldiag_ingest_throttled_calls_total",
    help: "RecordFetches calls refused with RESOURCE_EXHAUSTED because their client was over its share, per client.",
    labelNames: ["client"],
    registers: [this.registry],
  });
  private readonly groupBatches = new Histogram({
    name: "crawldiag_group_commit_batches",
    help: "Batches committed together in one transaction.",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  private readonly groupRecords = new Histogram({
    name: "crawldiag_group_commit_records",
    help: "Records in one group commit.",
    buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 20000, 50000],
    registers: [this.registry],
  });
  private readonly groupSeconds = new Histogram({
    name: "crawldiag_group_commit_seconds",
    help: "The writer's time for one group commit: decoding, validation, and the transaction with its fsync.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly purges = new Counter({
    name: "crawldiag_retention_purges_total",
    help: "Retention runs (at start and hourly).",
    registers: [this.registry],
  });
  private readonly purgedRows = new Counter({
    name: "crawldiag_retention_purged_rows_total",
    help: "Rows deleted by retention, per kind of data.",
    labelNames: ["data"],
    registers: [this.registry],
  });
  private readonly crawlers = new Set<string>();
  private readonly rpcChildren = new Map<
    string,
    { handled: Counter.Internal; handling: Histogram.Internal<RpcLabel> }
  >();

  /** Counts a call that starts; the returned function records its status code (a name such as "OK"). */
  rpc(service: string, method: string, type: string): (code: string) => void {
    this.started.inc({ grpc_type: type, grpc_service: service, grpc_method: method });
    const startedAt = performance.now();
    return (code) => {
      const key = `${service}/${method}\n${code}`;
      let child = this.rpcChildren.get(key);
      if (child === undefined) {
        const labels = { grpc_type: type, grpc_service: service, grpc_method: method, grpc_code: code };
        child = { handled: this.handled.labels(labels), handling: this.handling.labels(labels) };
        this.rpcChildren.set(key, child);
      }
      child.handled.inc();
      child.handling.observe((performance.now() - startedAt) / 1000);
    };
  }

  committed(g: GroupCommitted): void {
    this.groupBatches.observe(g.batches);
    this.groupRecords.observe(g.records);
    this.groupSeconds.observe(g.busyMs / 1000);
    if (g.replayed > 0) this.replayed.inc(g.replayed);
    for (const t of g.crawlers) this.countCrawler(t);
  }

  /** A call refused for fair sharing; `client` is the auth file's name, never an address. */
  throttled(client: string): void {
    this.throttledCalls.inc({ client });
  }

  purged(counts: PurgeCounts): void {
    this.purges.inc();
    for (const [data, rows] of Object.entries(counts)) this.purgedRows.inc({ data }, rows);
  }

  /** Gauges read when scraped: the write queue and the store against its quota. */
  watch(o: { queuedRecords: () => number; queueCapacity: number; storeBytes: () => number; quotaBytes: number }) {
    const registers = [this.registry];
    new Gauge({
      name: "crawldiag_write_queue_records",
      help: "Records waiting for their commit or in one.",
      registers,
      collect() {
        this.set(o.queuedRecords());
      },
    });
    new Gauge({ name: "crawldiag_write_queue_capacity_records", help: "CRAWLDIAG_QUEUE_RECORDS.", registers }).set(
      o.queueCapacity,
    );
    new Gauge({
      name: "crawldiag_store_bytes",
      help: "Size of the database and its WAL on disk.",
      registers,
      collect() {
        this.set(o.storeBytes());
      },
    });
    new Gauge({ name: "crawldiag_store_quota_bytes", help: "CRAWLDIAG_MAX_DB_MB in bytes; 0 = none.", registers }).set(
      o.quotaBytes,
    );
  }

  /** Node.js process metrics (CPU, memory, event loop lag, GC), only when the metrics are served. */
  withProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  private countCrawler(t: CrawlerTally): void {
    let crawler = t.crawler;
    if (!this.crawlers.has(crawler)) {
      if (this.crawlers.size < MAX_CRAWLERS) this.crawlers.add(crawler);
      else crawler = OTHER_CRAWLERS;
    }
    if (t.accepted > 0) this.accepted.inc({ crawler }, t.accepted);
    for (const [field, n] of Object.entries(t.rejected)) this.rejected.inc({ crawler, field }, n);
  }
}
