import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { DomainError, invalidArgument } from "../domain/errors.js";
import { checkRequest, type IngestRequest, type IngestSink } from "../domain/ingest.js";
import type { ClientBudgets } from "../domain/token-bucket.js";
import { IngestServiceService, type RecordFetchesResponse } from "../gen/webmasterid/crawldiag/v1/ingest.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { Caller } from "./guard.js";
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
  /** Set by the guard: whose budget the batch is taken from. */
  caller?: Caller;
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
  /** Fair sharing between clients; absent = no limit. */
  budgets?: ClientBudgets | undefined;
  metrics?: Metrics | undefined;
}

export function ingestService(d: IngestDeps): UntypedServiceImplementation {
  const recordFetches = unary<Received, RecordFetchesResponse>(
    "IngestService/RecordFetches",
    d.log,
    (req) => {
      let scan: ReturnType<typeof scanRequest>;
      try {
        scan = scanRequest(req.bytes);
      } catch {
        throw invalidArgument("request", UNDECODABLE);
      }
      // Request-level faults and fair sharing are answered here, before the batch takes room in the write queue.
      checkRequest(scan.requestId, scan.records, d.maxBatch);
      req.records = scan.records;
      const refund = takeShare(d, req.caller, scan.records);
      let denied: string[] | undefined;
      const allowed = req.crawlerAllowed;
      try {
        if (allowed !== undefined) denied = [...crawlersOf(req.bytes)].filter((c) => !allowed(c));
      } catch {
        throw invalidArgument("request", UNDECODABLE);
      }
      const submitted = d.sink.submit({
        bytes: req.bytes,
        records: scan.records,
        nowMs: d.now(),
        deniedCrawlers: denied,
        client: req.caller?.key,
      });
      return refund === undefined ? submitted : submitted.catch(refund);
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

/**
 * Takes the batch from its client's share (an empty batch costs one record), or throws RESOURCE_EXHAUSTED. Returns
 * what to do when the server then turns the batch away itself (a full queue, a shutdown, an outage): give the
 * records back, so that the retry does not pay twice.
 */
function takeShare(d: IngestDeps, caller: Caller | undefined, records: number) {
  const budgets = d.budgets;
  if (caller === undefined || budgets === undefined) return undefined;
  const cost = Math.max(1, records);
  try {
    budgets.take(caller.key, cost, caller.recordsPerS, performance.now());
  } catch (e) {
    d.metrics?.throttled(caller.label);
    throw e;
  }
  return (e: unknown): never => {
    if (e instanceof DomainError && e.kind === "unavailable") budgets.refund(caller.key, cost);
    throw e;
  };
}
