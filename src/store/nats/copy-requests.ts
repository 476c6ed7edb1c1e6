import { connect } from "nats";
import type { IngestResult } from "../../domain/ingest.js";
import { createEntry } from "./request-entry.js";
import { REQUEST_TIMEOUT_MS, REQUESTS_BUCKET } from "./setup.js";

export interface CopiedRequest {
  requestId: string;
  digest: Uint8Array;
  result: IngestResult;
}

// Entries written at once: each is a round trip, and a week of request_ids can be millions.
const IN_FLIGHT = 256;

/**
 * Puts request_ids recorded by SQLite into the cluster's requests bucket, so that a batch SQLite stored and a
 * client resends to the cluster is answered as a replay instead of counted again. The bucket must exist (a node
 * of the cluster has started once): it is bound, never created or reconfigured, since only the nodes know its
 * settings. An entry already there is left as it is. Its seq is 0, which no stream message has: no writer ever
 * takes a copy of the batch for the one that counts, and none is in the stream to take.
 */
export async function copyRequests(
  servers: string[],
  requests: Iterable<CopiedRequest>,
): Promise<{ copied: number; present: number }> {
  const nc = await connect({ servers, name: "crawldiag copy-store", timeout: REQUEST_TIMEOUT_MS });
  try {
    const jsm = await nc.jetstreamManager({ timeout: REQUEST_TIMEOUT_MS });
    // Binding checks nothing: whether the bucket is there is asked of its stream.
    await jsm.streams.info(`KV_${REQUESTS_BUCKET}`).catch((e: unknown) => {
      throw new Error(
        `NATS has no ${REQUESTS_BUCKET} bucket (${e instanceof Error ? e.message : String(e)}): start a cluster ` +
          "node on it once, then copy again",
      );
    });
    const kv = await nc.jetstream({ timeout: REQUEST_TIMEOUT_MS }).views.kv(REQUESTS_BUCKET, { bindOnly: true });
    const counts = { copied: 0, present: 0 };
    let pending: Promise<void>[] = [];
    for (const r of requests) {
      const entry = { digest: r.digest, result: r.result, seq: 0 };
      pending.push(
        createEntry(kv, r.requestId, entry).then((held) => {
          if (held === entry) counts.copied++;
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
