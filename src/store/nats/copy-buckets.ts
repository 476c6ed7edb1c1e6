import { connect, type KV } from "nats";
import type { IngestResult } from "../../domain/ingest.js";
import { claimKey } from "./claims.js";
import { createEntry, isWrongLastSequence } from "./request-entry.js";
import { CLAIMS_BUCKET, REQUEST_TIMEOUT_MS, REQUESTS_BUCKET } from "./setup.js";

export interface CopiedRequest {
  requestId: string;
  digest: Uint8Array;
  result: IngestResult;
}

export interface CopiedClaim {
  crawler: string;
  fetchId: string;
}

export interface CopyCounts {
  copied: number;
  /** Entries the bucket already had, left as they were. */
  present: number;
}

/**
 * The holder of a claim copied from SQLite. A claimant (claims.ts) is `<request_id> <base64url digest>`, and a
 * request_id is only [A-Za-z0-9_-] (domain ingest.ts): this one starts with "(", so no batch, not even a retry of
 * one SQLite stored, ever takes a copied claim for its own: each is refused as SQLite refuses it.
 */
export const COPIED_HOLDER = "(copied from SQLite)";

// Entries written at once: each is a round trip, and a week of request_ids or the detail rows can be millions.
const IN_FLIGHT = 256;

/**
 * Puts request_ids recorded by SQLite into the cluster's requests bucket, so that a batch SQLite stored and a
 * client resends to the cluster is answered as a replay instead of counted again. Its seq is 0, which no stream
 * message has: no writer ever takes a copy of the batch for the one that counts, and none is in the stream to take.
 */
export function copyRequests(servers: string[], requests: Iterable<CopiedRequest>): Promise<CopyCounts> {
  return copyInto(servers, REQUESTS_BUCKET, requests, async (kv, r) => {
    const entry = { digest: r.digest, result: r.result, seq: 0 };
    return (await createEntry(kv, r.requestId, entry)) === entry;
  });
}

/**
 * Claims the (crawler, fetch_id) of SQLite's detail rows in the cluster's claims bucket, so that a 421, refusal or
 * retry SQLite stored and a client sends again in a new batch is refused on fetch_id, as SQLite would refuse it.
 */
export function copyClaims(servers: string[], claims: Iterable<CopiedClaim>): Promise<CopyCounts> {
  return copyInto(servers, CLAIMS_BUCKET, claims, async (kv, c) => {
    try {
      await kv.create(claimKey(c.crawler, c.fetchId), COPIED_HOLDER);
      return true;
    } catch (e) {
      if (isWrongLastSequence(e)) return false;
      throw e;
    }
  });
}

/**
 * Creates an entry per item, `create` resolving to false when the key was there already (it is left as it is, so a
 * second run copies nothing). The bucket must exist (a node of the cluster has started once): it is bound, never
 * created or reconfigured, since only the nodes know its settings.
 */
async function copyInto<T>(
  servers: string[],
  bucket: string,
  items: Iterable<T>,
  create: (kv: KV, item: T) => Promise<boolean>,
): Promise<CopyCounts> {
  // Stack traces for every request would dominate a run where most creates find their key there (a second run).
  const nc = await connect({ servers, name: "crawldiag copy-store", timeout: REQUEST_TIMEOUT_MS, noAsyncTraces: true });
  try {
    const jsm = await nc.jetstreamManager({ timeout: REQUEST_TIMEOUT_MS });
    // Binding checks nothing: whether the bucket is there is asked of its stream.
    await jsm.streams.info(`KV_${bucket}`).catch((e: unknown) => {
      throw new Error(
        `NATS has no ${bucket} bucket (${e instanceof Error ? e.message : String(e)}): start a cluster ` +
          "node on it once, then copy again",
      );
    });
    const kv = await nc.jetstream({ timeout: REQUEST_TIMEOUT_MS }).views.kv(bucket, { bindOnly: true });
    const counts: CopyCounts = { copied: 0, present: 0 };
    let pending: Promise<void>[] = [];
    for (const item of items) {
      pending.push(
        create(kv, item).then((created) => {
          if (created) counts.copied++;
          else counts.present++;
        }),
      );
      if (pending.length >= IN_FLIGHT) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    return counts;
  } finally {
    await nc.close();
  }
}
