import type { ConsumerMessages, JsMsg } from "nats";
import { DomainError } from "../../domain/errors.js";
import type { BatchStore, LoggedBatch } from "../../domain/logged-batch.js";
import type { Logger } from "../../log.js";
import { type BatchChecker, LocalChecker, type Replayed } from "./batch-check.js";
import { contextOf } from "./batch-message.js";
import type { Handoff } from "./handoff.js";
import { createEntry, findEntry } from "./request-entry.js";
import { type NatsLog, STREAM, WRITERS } from "./setup.js";

export interface DrainerOptions<P> {
  /** Most batches in one store.write (default 100). */
  maxMessages?: number;
  /** Most records in one store.write, give or take a batch (default 100 000). */
  maxRecords?: number;
  /** How long a group waits for more batches after its first (default 150 ms). */
  windowMs?: number;
  /** First delay before a failed write is tried again; it doubles up to 30 s (default 500 ms). */
  retryMs?: number;
  /** This node's ingest, if it has one: the batches it logged, already validated (handoff.ts). */
  handoff?: Handoff<P> | undefined;
  /** Decodes the other batches again (batch-check.ts): by default on this thread, with the store's prepare(). */
  decoder?: Pick<BatchChecker<P>, "replay"> | undefined;
}

/** The log's backlog as one writer sees it. */
export interface LogLag {
  /** Batches and bytes in the stream: acknowledged to clients, not yet stored by any writer. */
  streamMessages: number;
  streamBytes: number;
  /** Batches no writer has taken yet. */
  pending: number;
  /** Batches taken by writers, not yet acknowledged (being written, or waiting for redelivery). */
  ackPending: number;
  /** Age of the oldest batch waiting (0 when none): how far behind the writers are. */
  oldestAgeMs: number;
  /** When this writer last stored a group (epoch ms), undefined before the first. */
  lastWriteMs: number | undefined;
}

const TIMEOUT = Symbol("timeout");
const MAX_RETRY_MS = 30_000;
/** A pull request lives this long on the server, even after stop() (JetStream has no way to withdraw it). */
const PULL_EXPIRES_MS = 2000;

/**
 * A writer: takes the log's batches in groups from the shared durable consumer, stores each group with one
 * store.write, and only then acknowledges its messages. A crash or stop() before the acks leaves them to be
 * delivered again (after the consumer's ack_wait) to any writer; store.write is idempotent per seq.
 */
export class Drainer<P extends { seq: number } = LoggedBatch> {
  private readonly maxMessages: number;
  private readonly maxRecords: number;
  private readonly windowMs: number;
  private readonly retryMs: number;
  private readonly handoff: Handoff<P> | undefined;
  private readonly decoder: Pick<BatchChecker<P>, "replay">;
  private messages: ConsumerMessages | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private lastWriteMs: number | undefined;
  /** Ends the wait before a failed group's next attempt, for stop(). */
  private wake: (() => void) | undefined;

  constructor(
    private readonly log: NatsLog,
    private readonly store: BatchStore<P>,
    private readonly logger: Logger,
    opts: DrainerOptions<P> = {},
  ) {
    this.maxMessages = opts.maxMessages ?? 100;
    this.maxRecords = opts.maxRecords ?? 100_000;
    this.windowMs = opts.windowMs ?? 150;
    this.retryMs = opts.retryMs ?? 500;
    this.handoff = opts.handoff;
    this.decoder = opts.decoder ?? new LocalChecker((b) => store.prepare(b));
  }

  /**
   * Starts taking batches, and keeps at it through NATS restarts and leader changes; resolves once first
   * subscribed (a log that cannot be reached yet leaves it pending, retrying, until stop()).
   */
  start(): Promise<void> {
    return new Promise((subscribed) => {
      this.running = this.loop(subscribed);
    });
  }

  private async loop(subscribed: () => void): Promise<void> {
    for (let delay = this.retryMs; !this.stopping; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
      try {
        const consumer = await this.log.js.consumers.get(STREAM, WRITERS);
        // Twice a group: the next group is on its way while one is written, and no more waits out ack_wait here.
        this.messages = await consumer.consume({ max_messages: this.maxMessages * 2, expires: PULL_EXPIRES_MS });
        if (this.stopping) this.messages.stop();
        subscribed();
        delay = this.retryMs;
        await this.run(this.messages);
        // The subscription ended without stop() (consumer deleted or connection closed): subscribe again.
        if (!this.stopping) await this.pause(delay);
      } catch (e) {
        this.logger.error("log writer: cannot take batches, will retry", {
          retryMs: delay,
          error: e instanceof Error ? e.message : String(e),
        });
        await this.pause(delay);
      }
    }
    subscribed();
  }

  /** Lets the group being written finish (or, if its write keeps failing, gives it up unacknowledged), then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    this.wake?.();
    await this.running;
  }

  async lag(): Promise<LogLag> {
    return { ...(await logBacklog(this.log)), lastWriteMs: this.lastWriteMs };
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    const it = messages[Symbol.asyncIterator]();
    let next = it.next();
    while (!this.stopping) {
      const first = await next;
      if (first.done) return;
      next = it.next();
      const group: JsMsg[] = [first.value];
      let records = recordsOf(first.value);
      const until = performance.now() + this.windowMs;
      while (group.length < this.maxMessages && records < this.maxRecords) {
        const r = await within(next, until - performance.now());
        if (r === TIMEOUT || r.done) break;
        next = it.next();
        group.push(r.value);
        records += recordsOf(r.value);
      }
      await this.writeGroup(group);
    }
    // Delivered to us but in no group yet: given back too (see writeGroup), rather than left to ack_wait.
    for (let r = await within(next, 100); r !== TIMEOUT && !r.done; r = await within(it.next(), 100)) {
      r.value.nak(PULL_EXPIRES_MS + 1000);
    }
  }

  private async writeGroup(group: JsMsg[]): Promise<void> {
    for (let delay = this.retryMs; ; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
      try {
        const taken = await Promise.all(group.map((m) => this.take(m)));
        const bySeq = new Map<number, P>();
        for (const b of taken) if (b !== undefined) bySeq.set(b.seq, b);
        if (bySeq.size > 0) await this.store.write([...bySeq.values()]);
        this.lastWriteMs = Date.now();
        for (const m of group) {
          m.ack();
          this.handoff?.done(m.seq);
        }
        return;
      } catch (e) {
        this.logger.error("log writer: storing a group failed, will retry", {
          batches: group.length,
          retryMs: delay,
          error: e instanceof Error ? e.message : String(e),
        });
      }
      if (this.stopping) {
        // Given back rather than left to ack_wait, once our own pull request has expired: redelivered any sooner,
        // it would go to that request, whose subscription is closed, and wait out ack_wait after all.
        for (const m of group) m.nak(PULL_EXPIRES_MS + 1000);
        return;
      }
      // Still ours while we wait: the server must not hand the group to another writer meanwhile.
      for (const m of group) m.working();
      await this.pause(delay);
    }
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  /**
   * A message's batch, as the store prepared it: from what this node's ingest handed over, or else decoded from the
   * message; undefined when the request entry names another copy of its request_id (that one is stored), or when the
   * message is not a batch.
   */
  private async take(msg: JsMsg): Promise<P | undefined> {
    const handed = await this.handoff?.get(msg.seq)?.catch((e: unknown) => {
      this.logger.error("log writer: a handed-over batch was lost, reading its message", {
        seq: msg.seq,
        error: e instanceof Error ? e.message : String(e),
      });
      return undefined;
    });
    if (handed !== undefined) return handed;
    let m: Replayed<P>;
    try {
      m = await this.decoder.replay(msg.seq, msg.data, contextOf(msg.headers));
    } catch (e) {
      // The decoding thread was lost: the group is tried again.
      if (e instanceof DomainError && e.kind === "unavailable") throw e;
      // Not written by LogIngest: no writer could ever store it, and retrying it would stop the log.
      this.logger.error("log writer: dropped a message that is not a batch", {
        seq: msg.seq,
        error: e instanceof Error ? e.message : String(e),
      });
      return undefined;
    }
    const entry =
      (await findEntry(this.log.requests, m.requestId)) ??
      (await createEntry(this.log.requests, m.requestId, { digest: m.digest, result: m.result, seq: msg.seq }));
    return entry.seq === msg.seq ? m.prepared : undefined;
  }
}

/** Records of a batch, cheaply: the count of field-2 entries is not needed exactly, the byte size stands for it. */
function recordsOf(msg: JsMsg): number {
  // ~150-250 bytes a record: close enough for a group bound that only keeps store.write's input reasonable.
  return Math.ceil(msg.data.byteLength / 200);
}

async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  if (ms <= 0) return TIMEOUT;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** The log's backlog, for any node (an ingest node has no Drainer but may report it too). */
export async function logBacklog(log: NatsLog): Promise<Omit<LogLag, "lastWriteMs">> {
  const [stream, consumer] = await Promise.all([log.jsm.streams.info(STREAM), log.jsm.consumers.info(STREAM, WRITERS)]);
  const { state } = stream;
  // A work-queue stream keeps only what no writer has stored yet, so its first message is the oldest one waiting.
  const first = state.messages === 0 ? Number.NaN : Date.parse(state.first_ts);
  return {
    streamMessages: state.messages,
    streamBytes: state.bytes,
    pending: consumer.num_pending,
    ackPending: consumer.num_ack_pending,
    oldestAgeMs: Number.isNaN(first) ? 0 : Math.max(0, Date.now() - first),
  };
}
