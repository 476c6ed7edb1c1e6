import { DomainError, invalidArgument } from "./errors.js";
import type { Fetch, Rejection } from "./fetch.js";
import { type FetchRecordInput, validateBatch } from "./validate.js";

export const MAX_LISTED_REJECTIONS = 100;
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

/** What ingest needs from storage; the store commits a batch and its request record in one transaction. */
export interface IngestStore {
  findRequest(requestId: string): StoredRequest | undefined;
  /** Stores the batch whole or not at all; may refuse more records (already stored) and returns the final result. */
  commitBatch(batch: BatchToCommit): IngestResult;
}

export interface IngestLimits {
  maxBatch: number;
  /** Oldest acceptable fetched_at in ms, 0 for none. */
  oldestMs: number;
  nowMs: number;
}

export interface IngestRequest {
  requestId: string;
  records: readonly FetchRecordInput[];
  /** The caller's crawler permission, set per call by the transport from its credentials; absent = any. */
  crawlerAllowed?: ((crawler: string) => boolean) | undefined;
}

/** AIP-155 idempotent batch ingest: request-level faults store nothing; bad records are refused one by one. */
export function ingest(store: IngestStore, req: IngestRequest, digest: Uint8Array, limits: IngestLimits): IngestResult {
  if (!REQUEST_ID.test(req.requestId)) {
    throw invalidArgument("request_id", "required: 1-64 characters of A-Z a-z 0-9 _ -");
  }
  if (req.records.length > limits.maxBatch) {
    throw invalidArgument(
      "records",
      `${req.records.length} records, more than the maximum batch of ${limits.maxBatch}`,
    );
  }
  const prior = store.findRequest(req.requestId);
  if (prior !== undefined) {
    if (!sameBytes(prior.digest, digest)) {
      throw new DomainError("already_exists", "request_id: already used for a different batch");
    }
    return { ...prior.result, replayed: true };
  }
  const { fetches, rejections } = validateBatch(req.records, {
    nowMs: limits.nowMs,
    oldestMs: limits.oldestMs,
    crawlerAllowed: req.crawlerAllowed,
  });
  return store.commitBatch({ requestId: req.requestId, digest, nowMs: limits.nowMs, fetches, rejections });
}

/** The response of a committed batch: rejections in record order, at most MAX_LISTED_REJECTIONS listed. */
export function finishResult(accepted: number, rejections: Rejection[]): IngestResult {
  const sorted = [...rejections].sort((a, b) => a.index - b.index);
  return {
    acceptedCount: accepted,
    rejectedCount: sorted.length,
    rejections: sorted.slice(0, MAX_LISTED_REJECTIONS),
    replayed: false,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
