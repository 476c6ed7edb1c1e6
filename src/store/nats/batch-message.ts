import { createHash } from "node:crypto";
import { headers, type MsgHdrs } from "nats";
import { invalidArgument } from "../../domain/errors.js";
import type { Fetch, Rejection } from "../../domain/fetch.js";
import { ALREADY_RECORDED, finishResult, type IngestResult } from "../../domain/ingest.js";
import type { FetchRecordInput } from "../../domain/validate.js";
import { validateBatch } from "../../domain/validate.js";
import { decodeRecordFetches, UNDECODABLE } from "../../grpc/ingest-codec.js";

/**
 * What a batch in the log carries beside its bytes: everything that decided, at ingest, which records were
 * accepted. A writer (or another ingest node answering a retry) decodes the very same fetches and the very same
 * result from the message alone, whatever its own clock or configuration says.
 */
export interface BatchContext {
  nowMs: number;
  /** Oldest acceptable fetched_at, 0 for none. */
  oldestMs: number;
  /** Crawlers the caller could not write; absent = any. */
  denied: readonly string[] | undefined;
  /** Indexes of detail fetches refused because another request_id had recorded them. */
  refused: readonly number[];
}

const NOW = "Crawldiag-Now-Ms";
const OLDEST = "Crawldiag-Oldest-Ms";
const DENIED = "Crawldiag-Denied";
const REFUSED = "Crawldiag-Refused";

export function contextHeaders(c: BatchContext): MsgHdrs {
  const h = headers();
  h.set(NOW, String(c.nowMs));
  h.set(OLDEST, String(c.oldestMs));
  // JSON: crawler ids are checked only after this point, and a header value must not hold a line break.
  if (c.denied !== undefined) h.set(DENIED, JSON.stringify(c.denied));
  if (c.refused.length > 0) h.set(REFUSED, c.refused.join(","));
  return h;
}

export function contextOf(h: MsgHdrs | undefined): BatchContext {
  const num = (name: string) => {
    const v = Number(h?.get(name));
    if (!Number.isSafeInteger(v)) throw new Error(`log message without a valid ${name} header`);
    return v;
  };
  const denied = h?.get(DENIED);
  const refused = h?.get(REFUSED) ?? "";
  return {
    nowMs: num(NOW),
    oldestMs: num(OLDEST),
    denied: denied ? (JSON.parse(denied) as string[]) : undefined,
    refused: refused === "" ? [] : refused.split(",").map(Number),
  };
}

export interface DecodedBatch {
  requestId: string;
  records: readonly FetchRecordInput[];
  digest: Uint8Array;
}

export function decodeBatch(bytes: Uint8Array): DecodedBatch {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let req: ReturnType<typeof decodeRecordFetches>;
  try {
    req = decodeRecordFetches(buf);
  } catch {
    throw invalidArgument("request", UNDECODABLE);
  }
  return { requestId: req.requestId, records: req.records, digest: createHash("sha256").update(buf).digest() };
}

/** The domain's validation under a batch's limits (validate.ts), before any claim. */
export function validate(records: readonly FetchRecordInput[], c: Pick<BatchContext, "nowMs" | "oldestMs" | "denied">) {
  const denied = c.denied === undefined ? undefined : new Set(c.denied);
  return validateBatch(records, {
    nowMs: c.nowMs,
    oldestMs: c.oldestMs,
    crawlerAllowed: denied && ((crawler: string) => !denied.has(crawler)),
  });
}

/** The accepted fetches and the result, once the refused detail fetches are known: as SQLite's writer counts them. */
export function settle(
  fetches: readonly Fetch[],
  rejections: readonly Rejection[],
  refused: readonly number[],
): { accepted: Fetch[]; result: IngestResult } {
  const out = new Set(refused);
  const accepted = out.size === 0 ? [...fetches] : fetches.filter((f) => !out.has(f.index));
  return { accepted, result: resultOf(fetches.length, rejections, fetches, out) };
}

/**
 * The result of `valid` fetches once the refused ones are known: each refused one of `candidates` (the valid
 * fetches, or at least those that can be refused) is rejected as already recorded.
 */
export function resultOf(
  valid: number,
  rejections: readonly Rejection[],
  candidates: readonly { index: number; fetchId: string }[],
  refused: ReadonlySet<number>,
): IngestResult {
  const all = [...rejections];
  for (const f of candidates) {
    if (refused.has(f.index))
      all.push({ index: f.index, fetchId: f.fetchId, field: "fetch_id", reason: ALREADY_RECORDED });
  }
  return finishResult(valid - (all.length - rejections.length), all);
}

/**
 * A logged batch decoded again: its request, its accepted fetches and the result ingest answered. `c` is what
 * its message's headers hold (contextOf).
 */
export function replayMessage(bytes: Uint8Array, c: BatchContext) {
  const batch = decodeBatch(bytes);
  const { fetches, rejections } = validate(batch.records, c);
  return { ...batch, ...settle(fetches, rejections, c.refused) };
}
