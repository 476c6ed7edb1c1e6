import type { Fetch, Rejection } from "../../domain/fetch.js";
import { keepsDetail } from "../../domain/fetch.js";
import { checkRequest, type IngestResult } from "../../domain/ingest.js";
import type { LoggedBatch } from "../../domain/logged-batch.js";
import { type BatchContext, decodeBatch, replayMessage, resultOf, validate } from "./batch-message.js";
import { claimKey } from "./claims.js";

export interface CheckInput extends Omit<BatchContext, "refused"> {
  bytes: Uint8Array;
  maxBatch: number;
  /** Keep the valid fetches for prepare() (this node has a writer), or let them go at once. */
  keep: boolean;
}

/** A batch decoded and validated: what LogIngest needs to claim its detail fetches, publish it and answer. */
export interface CheckedBatch {
  /** Names the kept fetches, for prepare() or forget(). */
  job: number;
  requestId: string;
  digest: Uint8Array;
  /** How many records passed validation. */
  valid: number;
  rejections: Rejection[];
  /** The valid fetches whose (crawler, fetch_id) must be claimed, in record order, with their claim keys. */
  detail: DetailClaim[];
}

export interface DetailClaim {
  index: number;
  fetchId: string;
  key: string;
}

/**
 * Decoding and validating for LogIngest, on its own thread or another one (`P` is what the writer's store makes
 * of a batch, BatchStore.prepare). Most of an ingest node's CPU, and synchronous: on the event loop it held back
 * every NATS answer behind it.
 */
export interface BatchChecker<P> {
  check(input: CheckInput): Promise<CheckedBatch>;
  /** The valid fetches of a batch checked with `keep`, the refused ones left out, as the store prepares them. */
  prepare(job: number, seq: number, refused: readonly number[]): Promise<P>;
  /** Lets go of the fetches of a batch checked with `keep` that will not be stored from here. */
  forget(job: number): void;
  /** A logged batch decoded again for a writer (replayMessage), its accepted fetches as the store prepares them. */
  replay(seq: number, bytes: Uint8Array, context: BatchContext): Promise<Replayed<P>>;
}

export interface Replayed<P> {
  requestId: string;
  digest: Uint8Array;
  result: IngestResult;
  prepared: P;
}

/** The work itself, synchronous, on whichever thread holds it. */
export class BatchChecks<P> {
  private readonly kept = new Map<number, readonly Fetch[]>();
  private next = 0;

  constructor(private readonly prepareBatch: (b: LoggedBatch) => P) {}

  check(input: CheckInput): CheckedBatch {
    const batch = decodeBatch(input.bytes);
    checkRequest(batch.requestId, batch.records.length, input.maxBatch);
    const { fetches, rejections } = validate(batch.records, input);
    const job = this.next++;
    if (input.keep) this.kept.set(job, fetches);
    const detail = fetches
      .filter(keepsDetail)
      .map((f) => ({ index: f.index, fetchId: f.fetchId, key: claimKey(f.crawler, f.fetchId) }));
    return { job, requestId: batch.requestId, digest: batch.digest, valid: fetches.length, rejections, detail };
  }

  prepare(job: number, seq: number, refused: readonly number[]): P {
    const fetches = this.kept.get(job);
    if (fetches === undefined) throw new Error(`no fetches kept for job ${job}`);
    this.kept.delete(job);
    const out = new Set(refused);
    return this.prepareBatch({ seq, fetches: out.size === 0 ? fetches : fetches.filter((f) => !out.has(f.index)) });
  }

  forget(job: number): void {
    this.kept.delete(job);
  }

  replay(seq: number, bytes: Uint8Array, context: BatchContext): Replayed<P> {
    const m = replayMessage(bytes, context);
    return {
      requestId: m.requestId,
      digest: m.digest,
      result: m.result,
      prepared: this.prepareBatch({ seq, fetches: m.accepted }),
    };
  }
}

/** BatchChecker on the caller's thread: what LogIngest and Drainer use unless given another (tests). */
export class LocalChecker<P> implements BatchChecker<P> {
  private readonly checks: BatchChecks<P>;

  constructor(prepareBatch: (b: LoggedBatch) => P) {
    this.checks = new BatchChecks(prepareBatch);
  }

  async check(input: CheckInput): Promise<CheckedBatch> {
    return this.checks.check(input);
  }

  async prepare(job: number, seq: number, refused: readonly number[]): Promise<P> {
    return this.checks.prepare(job, seq, refused);
  }

  forget(job: number): void {
    this.checks.forget(job);
  }

  async replay(seq: number, bytes: Uint8Array, context: BatchContext): Promise<Replayed<P>> {
    return this.checks.replay(seq, bytes, context);
  }
}

/** The answer to a checked batch once its refused detail fetches are known: as SQLite's writer counts it. */
export function settleChecked(c: CheckedBatch, refused: readonly number[]): IngestResult {
  return resultOf(c.valid, c.rejections, c.detail, new Set(refused));
}
