import { createHash } from "node:crypto";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { type IngestStore, ingest } from "../domain/ingest.js";
import { DAY_MS } from "../domain/window.js";
import {
  IngestServiceService,
  type RecordFetchesRequest,
  RecordFetchesRequest as RequestCodec,
  type RecordFetchesResponse,
} from "../gen/webmasterid/crawldiag/v1/ingest.js";
import type { Logger } from "../log.js";
import { unary } from "./unary.js";

const DIGEST = Symbol("digest");
type WithDigest = RecordFetchesRequest & { [DIGEST]?: Uint8Array };

/**
 * The service definition with a deserializer that also fingerprints the request bytes: idempotency compares
 * a replayed batch with the first one without encoding anything again.
 */
export const ingestDefinition = {
  ...IngestServiceService,
  recordFetches: {
    ...IngestServiceService.recordFetches,
    requestDeserialize: (bytes: Buffer): RecordFetchesRequest => {
      const req: WithDigest = RequestCodec.decode(bytes);
      req[DIGEST] = createHash("sha256").update(bytes).digest();
      return req;
    },
  },
} as const;

export interface IngestDeps {
  store: IngestStore;
  maxBatch: number;
  retentionDays: number;
  now: () => number;
  log: Logger;
}

export function ingestService(d: IngestDeps): UntypedServiceImplementation {
  const recordFetches = unary<RecordFetchesRequest, RecordFetchesResponse>(
    "IngestService/RecordFetches",
    d.log,
    (req) => {
      const nowMs = d.now();
      const digest = (req as WithDigest)[DIGEST] ?? new Uint8Array();
      return ingest(d.store, req, digest, {
        maxBatch: d.maxBatch,
        nowMs,
        oldestMs: d.retentionDays === 0 ? 0 : nowMs - d.retentionDays * DAY_MS,
      });
    },
    (req, res) => ({
      records: req.records.length,
      accepted: res?.acceptedCount ?? 0,
      rejected: res?.rejectedCount ?? 0,
      ...(res?.replayed ? { replayed: 1 } : {}),
    }),
  );
  return { recordFetches };
}
