import {
  AckPolicy,
  type ConsumerConfig,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "nats";
import { DAY_MS } from "../../domain/window.js";
import { ClaimWriter } from "./claim-writer.js";

export const STREAM = "CRAWLDIAG_BATCHES";
export const SUBJECT = "crawldiag.batches";
export const REQUESTS_BUCKET = "crawldiag-requests";
export const CLAIMS_BUCKET = "crawldiag-claims";
export const WRITERS = "crawldiag-writers";

/** request_ids are answered from their first result this long, as in SQLite (retention.ts REQUEST_ID_KEEP_MS). */
export const REQUEST_KEEP_MS = 7 * DAY_MS;
/** Same request_id published again within this time is dropped by the stream itself (the cheap first guard). */
const DUPLICATE_WINDOW_MS = 5 * 60_000;
const DEFAULT_STREAM_BYTES = 1024 ** 3;
/** How long the server waits for a writer's ack before it hands the batch to another writer. */
export const ACK_WAIT_MS = 30_000;
const MAX_ACK_PENDING = 2000;
/** Every NATS request (publish ack, KV get/create, API call) gives up after this long. */
export const REQUEST_TIMEOUT_MS = 5000;

export interface LogOptions {
  /** Copies of the stream and of the buckets (1, 3 or 5 in a cluster). */
  replicas: number;
  /** Days of data kept: how long a detail fetch's (crawler, fetch_id) claim lasts; 0 = 90 days. */
  retentionDays: number;
  /** Most bytes of batches waiting for the writers; past it ingest answers UNAVAILABLE. Default 1 GiB. */
  maxStreamBytes?: number | undefined;
  /** Connection name shown by the server (monitoring). */
  name?: string | undefined;
}

/** One node's connection to the log and its buckets. */
export interface NatsLog {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** request_id → RequestEntry (request-entry.ts). */
  requests: KV;
  /** hash of (crawler, fetch_id) of a detail fetch → the request_id that claimed it. */
  claims: KV;
  /** Creates many claims at once (claims.ts). */
  claimWriter: ClaimWriter;
  /** Largest message the servers accept, bytes. */
  maxPayload: number;
  close(): Promise<void>;
}

/**
 * Connects and makes sure the stream, the buckets and the writers' consumer exist with this configuration. Every
 * node calls it at start, in any order and at the same time: each step creates what is missing and updates what
 * differs, and a node that loses a creation race just finds the winner's copy.
 */
export async function connectLog(servers: string[], opts: LogOptions): Promise<NatsLog> {
  const nc = await connect({
    servers,
    name: opts.name ?? "crawldiag",
    timeout: REQUEST_TIMEOUT_MS,
    // A node outlives NATS restarts: it keeps reconnecting while calls fail fast with UNAVAILABLE.
    maxReconnectAttempts: -1,
    // Stack traces for every request cost about 4% of an ingest node's CPU (profiled); errors still say what failed.
    noAsyncTraces: true,
    reconnectTimeWait: 500,
  });
  try {
    const jsm = await nc.jetstreamManager({ timeout: REQUEST_TIMEOUT_MS });
    const js = nc.jetstream({ timeout: REQUEST_TIMEOUT_MS });
    await ensureStream(jsm, {
      name: STREAM,
      subjects: [SUBJECT],
      storage: StorageType.File,
      // Acknowledged by a writer = stored in ClickHouse: the stream holds only the backlog, and max_bytes bounds it.
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
      max_bytes: opts.maxStreamBytes ?? DEFAULT_STREAM_BYTES,
      num_replicas: opts.replicas,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    });
    const claimDays = opts.retentionDays > 0 ? opts.retentionDays : 90;
    const requests = await ensureBucket(js, jsm, REQUESTS_BUCKET, opts.replicas, REQUEST_KEEP_MS);
    const claims = await ensureBucket(js, jsm, CLAIMS_BUCKET, opts.replicas, claimDays * DAY_MS);
    await ensureConsumer(jsm);
    return {
      nc,
      js,
      jsm,
      requests,
      claims,
      claimWriter: new ClaimWriter(nc, `$KV.${CLAIMS_BUCKET}.`, REQUEST_TIMEOUT_MS),
      maxPayload: nc.info?.max_payload ?? 1024 * 1024,
      close: () => closeSoon(nc),
    };
  } catch (e) {
    await nc.close();
    throw e;
  }
}

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(cfg.name).catch((e: unknown) => {
        if (e instanceof Error && e.message.includes("stream not found")) return undefined;
        throw e;
      });
      if (info === undefined) {
        // Identical configurations added at once by two nodes both succeed: the server treats it as idempotent.
        await jsm.streams.add(cfg);
        return;
      }
      const c = info.config;
      if (
        c.num_replicas !== cfg.num_replicas ||
        (cfg.max_bytes !== undefined && c.max_bytes !== cfg.max_bytes) ||
        (cfg.max_age !== undefined && c.max_age !== cfg.max_age) ||
        (cfg.duplicate_window !== undefined && c.duplicate_window !== cfg.duplicate_window)
      ) {
        await jsm.streams.update(cfg.name, { ...c, ...cfg });
      }
      return;
    } catch (e) {
      // A creation race with a node of another configuration: look again, then update.
      if (attempt >= 2) throw e;
    }
  }
}

async function ensureBucket(
  js: JetStreamClient,
  jsm: JetStreamManager,
  name: string,
  replicas: number,
  ttlMs: number,
): Promise<KV> {
  const opts = { history: 1, replicas, ttl: ttlMs, timeout: REQUEST_TIMEOUT_MS };
  let kv: KV;
  try {
    kv = await js.views.kv(name, opts);
  } catch {
    // Lost a creation race: the bucket exists now.
    kv = await js.views.kv(name, opts);
  }
  // views.kv keeps an existing bucket as it is: bring replicas and max_age to this configuration.
  await ensureStream(jsm, { name: `KV_${name}`, num_replicas: replicas, max_age: nanos(ttlMs) });
  return kv;
}

async function ensureConsumer(jsm: JetStreamManager): Promise<void> {
  const cfg: Partial<ConsumerConfig> = {
    durable_name: WRITERS,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ACK_WAIT_MS),
    max_ack_pending: MAX_ACK_PENDING,
    // Never given up on: a batch that cannot be written waits for its writer to be fixed.
    max_deliver: -1,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.consumers.info(STREAM, WRITERS).catch((e: unknown) => {
        if (e instanceof Error && e.message.includes("consumer not found")) return undefined;
        throw e;
      });
      if (info === undefined) await jsm.consumers.add(STREAM, cfg);
      else if (info.config.ack_wait !== cfg.ack_wait || info.config.max_ack_pending !== cfg.max_ack_pending) {
        await jsm.consumers.update(STREAM, WRITERS, { ack_wait: cfg.ack_wait, max_ack_pending: cfg.max_ack_pending });
      }
      return;
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
}

/** Drains (pending acks and publishes go out), but a connection that cannot reach any server is just closed. */
async function closeSoon(nc: NatsConnection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 2000);
  });
  await Promise.race([nc.drain().catch(() => {}), late]);
  clearTimeout(timer);
  if (!nc.isClosed()) await nc.close();
}
