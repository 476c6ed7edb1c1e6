/**
 * Cluster-mode ingest: a batch is acknowledged once it is in the replicated JetStream stream; writers store it
 * later (drain.ts). The answers and error codes are SQLite's (domain/ingest.ts, sqlite/writer.ts).
 *
 * One call: decode, check and validate the request (on a thread of its own in a node, batch-check.ts); claim the
 * (crawler, fetch_id) of each detail fetch in the claims bucket (held by another batch → refused as "already
 * recorded by an earlier batch"); answer a known request_id from its entry (replay or ALREADY_EXISTS, giving back
 * the claims just created); publish the bytes with msgID = request_id and headers holding what decided the result
 * (batch-message.ts); wait for the stream's ack, the durability point; create the request entry {digest, result,
 * seq}; answer, and hand the batch to this node's writer if it has one.
 *
 * Why a retry of the same request_id, on any node, counts the batch exactly once:
 * - Two guards: the stream drops a msgID it has seen within its duplicate window, and the request entry is
 *   created once (KV create) and names the one stream sequence that counts. A writer creates the entry too,
 *   before it stores a batch, if the ingest node did not, and skips a batch whose entry names another sequence
 *   (drain.ts). So even a copy published twice (a retry after the duplicate window) is stored once.
 * - Node dies during the claims, or before the stream's ack: nothing is in the stream and no entry exists. The
 *   claims are held by (request_id, digest): a retry of the same batch takes them as its own and gets the same
 *   refusals; a different batch under that request_id cannot use them. Left without a retry, they refuse those
 *   fetch_ids for the claim's lifetime (the reporter always retries; a batch the client gives up is lost anyway).
 * - Node dies after the stream's ack, before the entry: within the duplicate window the retry's publish comes
 *   back `duplicate` with the first copy's sequence; the retry reads that copy from the stream, decodes its result
 *   from its headers (the first node's clock and refusals, not ours), creates the entry and answers it as a replay.
 *   If a writer already took the copy, the writer created the entry first. After the window, the retry publishes
 *   a second copy; whichever entry is created first decides which copy is stored.
 * - Node dies after the entry: the retry is answered from the entry.
 * - A timeout or a lost connection is answered UNAVAILABLE ("retry with the same request_id"): from the client's
 *   side it is one of the crashes above, and the retry resolves it the same way.
 * A full stream refuses the publish: UNAVAILABLE with RetryInfo, no message and no entry (the claims stay for the
 * retry). A different batch under a request_id in use gets ALREADY_EXISTS and gives its new claims back.
 */

import { DomainError, invalidArgument } from "../../domain/errors.js";
import type { IngestResult, IngestSink, ReceivedBatch } from "../../domain/ingest.js";
import { DAY_MS } from "../../domain/window.js";
import { type BatchChecker, type CheckedBatch, LocalChecker, settleChecked } from "./batch-check.js";
import { type BatchContext, contextHeaders, contextOf, replayMessage } from "./batch-message.js";
import { claimant, claimDetail, release } from "./claims.js";
import { isNotFound, logError } from "./errors.js";
import type { Handoff } from "./handoff.js";
import { createEntry, findEntry, type RequestEntry, replayOf } from "./request-entry.js";
import { type NatsLog, STREAM, SUBJECT } from "./setup.js";

export interface LogIngestOptions {
  maxBatch: number;
  /** Days of data kept: older fetched_at are refused; 0 = none. */
  retentionDays: number;
  /** A call that has no answer by then is answered UNAVAILABLE (default 10 s). */
  deadlineMs?: number | undefined;
}

/** A node without a writer keeps no fetches, so nothing is ever prepared. */
const keptForNoWriter = (): never => {
  throw new Error("no writer on this node: nothing to prepare");
};

/** Room for the headers beside the batch in one NATS message. */
const HEADER_ROOM = 4096;

export class LogIngest<P = never> implements IngestSink {
  private readonly deadlineMs: number;

  constructor(
    private readonly log: NatsLog,
    private readonly opts: LogIngestOptions,
    /** Decodes and validates the batches (batch-check.ts): by default on this thread. */
    private readonly checker: BatchChecker<P> = new LocalChecker<P>(keptForNoWriter),
    /** This node's writer, if it has one: takes each batch logged here, as the checker prepared it. */
    private readonly handoff?: Handoff<P>,
  ) {
    this.deadlineMs = opts.deadlineMs ?? 10_000;
  }

  submit(b: ReceivedBatch): Promise<IngestResult> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DomainError("unavailable", "the log did not answer in time; retry with the same request_id", 1000),
          ),
        this.deadlineMs,
      );
    });
    const work = this.ingest(b).catch((e: unknown) => {
      throw logError(e);
    });
    // The work goes on after a timeout; whatever it leaves, the retry resolves (see the top of this file).
    work.catch(() => {});
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }

  private async ingest(b: ReceivedBatch): Promise<IngestResult> {
    const days = this.opts.retentionDays;
    const ctx = { nowMs: b.nowMs, oldestMs: days === 0 ? 0 : b.nowMs - days * DAY_MS, denied: b.deniedCrawlers };
    const keep = this.handoff !== undefined;
    const checked = await this.checker.check({ ...ctx, bytes: b.bytes, maxBatch: this.opts.maxBatch, keep });
    let handed = false;
    try {
      const { result, ours } = await this.logChecked(b.bytes, checked, ctx);
      if (ours !== undefined && this.handoff !== undefined) {
        const prepared = this.checker.prepare(checked.job, ours.seq, ours.refused);
        this.handoff.put(ours.seq, prepared, result.acceptedCount);
        handed = true;
      }
      return result;
    } finally {
      if (keep && !handed) this.checker.forget(checked.job);
    }
  }

  /**
   * Claims, publishes and records a checked batch. `ours` is set when this call's copy is the one that counts:
   * then this node's writer may store it as the checker prepared it.
   */
  private async logChecked(
    bytes: Uint8Array,
    checked: CheckedBatch,
    ctx: Omit<BatchContext, "refused">,
  ): Promise<{ result: IngestResult; ours?: { seq: number; refused: number[] } }> {
    const { requestId, digest } = checked;
    if (bytes.byteLength + HEADER_ROOM > this.log.maxPayload) {
      throw invalidArgument(
        "records",
        `the batch takes ${bytes.byteLength} bytes, more than the log accepts (${this.log.maxPayload - HEADER_ROOM}); send fewer records`,
      );
    }
    // Looked up while the detail fetches are claimed, one round trip fewer on every call; a request_id seen before
    // is the rare case, and then whatever claims this call created are given back.
    const [prior, claims] = await Promise.all([
      findEntry(this.log.requests, requestId),
      claimDetail(this.log, claimant(requestId, digest), checked.detail),
    ]);
    if (prior !== undefined) {
      await release(this.log.claims, claims.created);
      return { result: replayOf(prior, digest) };
    }
    const result = settleChecked(checked, claims.refused);
    const ack = await this.log.js.publish(SUBJECT, bytes, {
      msgID: requestId,
      headers: contextHeaders({ ...ctx, refused: claims.refused }),
    });
    let entry: RequestEntry;
    if (ack.duplicate) entry = await this.firstCopy(requestId, ack.seq);
    else entry = await createEntry(this.log.requests, requestId, { digest, result, seq: ack.seq });
    // Ours: answered with our own result object (its full rejections feed the metrics, see rejectionsOf).
    if (entry.seq === ack.seq && !ack.duplicate) return { result, ours: { seq: ack.seq, refused: claims.refused } };
    try {
      return { result: replayOf(entry, digest) };
    } catch (e) {
      // ALREADY_EXISTS: this batch will never be stored, its new claims must not refuse anyone's fetches.
      await release(this.log.claims, claims.created);
      throw e;
    }
  }

  /** The entry of a request_id whose copy the stream already holds at `seq`: found, or made from that copy. */
  private async firstCopy(requestId: string, seq: number): Promise<RequestEntry> {
    const found = await findEntry(this.log.requests, requestId);
    if (found !== undefined) return found;
    const msg = await this.log.jsm.streams.getMessage(STREAM, { seq }).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    if (msg === undefined) {
      // A writer took the copy: it created the entry before it stored the batch.
      const after = await findEntry(this.log.requests, requestId);
      if (after !== undefined) return after;
      throw new DomainError(
        "unavailable",
        "the batch's first copy is being stored; retry with the same request_id",
        1000,
      );
    }
    const first = replayMessage(msg.data, contextOf(msg.header));
    if (first.requestId !== requestId) throw new Error(`stream sequence ${seq} holds another request`);
    return createEntry(this.log.requests, requestId, { digest: first.digest, result: first.result, seq });
  }
}
