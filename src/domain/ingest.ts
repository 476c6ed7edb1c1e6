import { DomainError, invalidArgument } from "./errors.js";
import type { Fetch, Rejection } from "./fetch.js";
import { type FetchRecordInput, validateBatch } from "./validate.js";

export const MAX_LISTED_REJECTIONS = 100;
/** The reason a fetch that keeps its detail is refused when its (crawler, fetch_id) is stored already. */
export const ALREADY_RECORDED = "already recorded by an earlier batch";
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface IngestResult {
  acceptedCount: number;
  rejectedCount: number;
  rejections: Rejection[];
  replayed: boolean;
}

export interface StoredRequest {
  digest: Uint8Array;
  result: IngestResult;
}

export interface BatchToCommit {
  requestId: string;
  digest: Uint8Array;
  nowMs: number;
  fetches: Fetch[];
  rejections: Rejection[];
}

/** A batch's outcome in storage: written, or not written because its request_id was already stored. */
export type Committed = { result: IngestResult } | { prior: StoredRequest };

/** What ingest needs from storage. */
export interface IngestStore {
  findRequest(requestId: string): StoredRequest | undefined;
  /**
   * Stores the batches and their request records in one transaction (group commit: one fsync for all). Each
   * batch may refuse more records (already stored). All or nothing: a storage failure throws UNAVAILABLE.
   */
  commitBatches(batches: readonly BatchToCommit[]): Committed[];
  /** Bytes the database takes on disk (file and WAL), for the quota. */
  sizeBytes(): number;
}

export interface IngestLimits {
  maxBatch: number;
  /** Oldest acceptable fetched_at in ms, 0 for none. */
  oldestMs: number;
  nowMs: number;
  /** Storage quota in bytes, 0 for none: past it new batches are refused, replays still answered. */
  maxBytes: number;
}

/** A received batch, already decoded, with its fingerprint and the limits of its arrival time. */
export interface IngestItem {
  req: IngestRequest;
  digest: Uint8Array;
  limits: IngestLimits;
}

/**
 * Where the transport hands a batch as received, still encoded: it is decoded, validated and committed away from
 * the transport's thread. Resolves after the commit; rejects with a DomainError.
 */
export interface IngestSink {
  submit(batch: ReceivedBatch): Promise<IngestResult>;
}

export interface ReceivedBatch {
  /** The RecordFetchesRequest message. */
  bytes: Uint8Array;
  /** Its number of records (counted on arrival, for the bounded queue). */
  records: number;
  nowMs: number;
  /** Crawler ids of this batch that the caller may not write (auth); absent = any. */
  deniedCrawlers?: string[] | undefined;
  /** Who sent it (the fair-share key), for the order of writes when several clients wait; never stored. */
  client?: string | undefined;
}

export interface IngestRequest {
  requestId: string;
  records: readonly FetchRecordInput[];
  /** The caller's crawler permission, set per call by the transport from its credentials; absent = any. */
  crawlerAllowed?: ((crawler: string) => boolean) | undefined;
}

/** Request-level faults, which store nothing: checked on arrival (before queueing) and again before storing. */
export function checkRequest(requestId: string, records: number, maxBatch: number): void {
  if (!REQUEST_ID.test(requestId)) {
    throw invalidArgument("request_id", "required: 1-64 characters of A-Z a-z 0-9 _ -");
  }
  if (records > maxBatch) {
    throw invalidArgument("records", `${records} records, more than the maximum batch of ${maxBatch}`);
  }
}

/**
 * AIP-155 idempotent ingest of the batches waiting to be written, committed together. Each batch gets its own
 * answer or error: request-level faults store nothing, bad records are refused one by one, and a storage failure
 * fails every batch of the group, none of them stored.
 */
export function ingestGroup(store: IngestStore, items: readonly IngestItem[]): (IngestResult | DomainError)[] {
  const out: (IngestResult | DomainError)[] = [];
  const pending: { at: number; batch: BatchToCommit }[] = [];
  let full: boolean | undefined;
  const overQuota = (maxBytes: number) => {
    full ??= maxBytes > 0 && store.sizeBytes() >= maxBytes;
    return full;
  };
  items.forEach(({ req, digest, limits }, at) => {
    try {
      checkRequest(req.requestId, req.records.length, limits.maxBatch);
      const prior = store.findRequest(req.requestId);
      if (prior !== undefined) {
        out[at] = replayOf(prior, digest);
        return;
      }
      if (overQuota(limits.maxBytes)) {
        throw new DomainError("resource_exhausted", "the storage quota is used up; nothing was stored");
      }
      const t = { nowMs: limits.nowMs, oldestMs: limits.oldestMs, crawlerAllowed: req.crawlerAllowed };
      const { fetches, rejections } = validateBatch(req.records, t);
      pending.push({ at, batch: { requestId: req.requestId, digest, nowMs: limits.nowMs, fetches, rejections } });
    } catch (e) {
      out[at] = asDomainError(e);
    }
  });
  if (pending.length === 0) return out;
  try {
    const committed = store.commitBatches(pending.map((p) => p.batch));
    pending.forEach(({ at, batch }, i) => {
      const c = committed[i];
      if (c === undefined) throw new Error("the store answered fewer batches than it was given");
      // A request_id used twice within one group: the later batch is a replay of the earlier one.
      out[at] = "prior" in c ? replayOf(c.prior, batch.digest) : c.result;
    });
  } catch (e) {
    const err = asDomainError(e);
    for (const { at } of pending) out[at] = err;
  }
  return out;
}

function replayOf(prior: StoredRequest, digest: Uint8Array): IngestResult | DomainError {
  if (!sameBytes(prior.digest, digest)) {
    return new DomainError("already_exists", "request_id: already used for a different batch");
  }
  return { ...prior.result, replayed: true };
}

function asDomainError(e: unknown): DomainError {
  if (e instanceof DomainError) return e;
  throw e;
}

// Every rejection of a batch committed by this process, beyond the listed ones: for the metrics, which count them
// by field. Held beside the result so that it is neither stored with it nor sent to the client.
const allRejections = new WeakMap<IngestResult, readonly Rejection[]>();

/** The response of a committed batch: rejections in record order, at most MAX_LISTED_REJECTIONS listed. */
export function finishResult(accepted: number, rejections: Rejection[]): IngestResult {
  const sorted = [...rejections].sort((a, b) => a.index - b.index);
  const result = {
    acceptedCount: accepted,
    rejectedCount: sorted.length,
    rejections: sorted.slice(0, MAX_LISTED_REJECTIONS),
    replayed: false,
  };
  allRejections.set(result, sorted);
  return result;
}

/** Every rejection of a result finishResult made, or the listed ones of any other (a replay). */
export function rejectionsOf(result: IngestResult): readonly Rejection[] {
  return allRejections.get(result) ?? result.rejections;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
