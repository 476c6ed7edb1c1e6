import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { invalidArgument } from "../domain/errors.js";
import { checkRequest, type IngestRequest, type IngestSink } from "../domain/ingest.js";
import { IngestServiceService, type RecordFetchesResponse } from "../gen/webmasterid/crawldiag/v1/ingest.js";
import type { Logger } from "../log.js";
import { UNDECODABLE } from "./ingest-codec.js";
import { crawlersOf, scanRequest } from "./ingest-scan.js";
import { unary } from "./unary.js";

/** A RecordFetches request as the transport holds it: its bytes, decoded by the write worker. */
interface Received {
  bytes: Buffer;
  /** Counted on arrival. */
  records?: number;
  /** Set by the guard from the caller's credentials. */
  crawlerAllowed?: IngestRequest["crawlerAllowed"];
}

/**
 * The service definition with a deserializer that keeps the bytes: decoding a batch costs more than receiving
 * it, so it happens on the write worker, and the digest that idempotency compares is taken there too.
 */
export const ingestDefinition = {
  ...IngestServiceService,
  recordFetches: {
    ...IngestServiceService.recordFetches,
    requestDeserialize: (bytes: Buffer): Received => ({ bytes }),
  },
} as const;

export interface IngestDeps {
  sink: IngestSink;
  maxBatch: number;
  now: () => number;
  log: Logger;
}

export function ingestService(d: IngestDeps): UntypedServiceImplementation {
  const recordFetches = unary<Received, RecordFetchesResponse>(
    "IngestService/RecordFetches",
    d.log,
    (req) => {
      let scan: ReturnType<typeof scanRequest>;
      let denied: string[] | undefined;
      try {
        scan = scanRequest(req.bytes);
        const allowed = req.crawlerAllowed;
        if (allowed !== undefined) denied = [...crawlersOf(req.bytes)].filter((c) => !allowed(c));
      } catch {
        throw invalidArgument("request", UNDECODABLE);
      }
      // Request-level faults are answered here, before the batch takes room in the write queue.
      checkRequest(scan.requestId, scan.records, d.maxBatch);
      req.records = scan.records;
      return d.sink.submit({ bytes: req.bytes, records: scan.records, nowMs: d.now(), deniedCrawlers: denied });
    },
    (req, res) => ({
      records: req.records ?? 0,
      accepted: res?.acceptedCount ?? 0,
      rejected: res?.rejectedCount ?? 0,
      ...(res?.replayed ? { replayed: 1 } : {}),
    }),
  );
  return { recordFetches };
}
