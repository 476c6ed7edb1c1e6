import { type ServiceError, status } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { GetHostStatsRequest } from "../../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import type { FetchRecord } from "../../src/gen/webmasterid/crawldiag/v1/fetch.js";
import type { RecordFetchesRequest } from "../../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { type Clients, call, connect } from "./client.js";
import type { Random } from "./random.js";
import { record } from "./records.js";

/**
 * One batch of the load tests. Each batch writes to a host of its own, so GetHostStats of that host counts
 * exactly the records of this batch that are stored: all of them, or none, never some.
 */
export interface Batch {
  host: string;
  request: RecordFetchesRequest;
  /** The server answered OK: from here on the batch must survive anything. */
  acked: boolean;
}

export function makeBatch(tag: string, size: number): Batch {
  const host = `${tag}.load.example.com`;
  const records: FetchRecord[] = Array.from({ length: size }, (_, i) =>
    // Every fourth record is a 421, which keeps per-fetch detail: the batch writes both tables.
    record({
      url: `https://${host}/`,
      crawler: "load-bot",
      fetchId: `${tag}-${i}`,
      statusCode: i % 4 === 0 ? 421 : 200,
    }),
  );
  return { host, request: { requestId: tag, records }, acked: false };
}

export const size = (b: Batch): number => b.request.records.length;

/** Records of the batch's host that are stored (0 when the host was never seen). */
export const storedCount = (c: Pick<Clients, "diagnosis">, b: Batch): Promise<number> => fetchCount(c, b.host);

/** Fetches of a host the store counts over the default window (0 when the host was never seen). */
export async function fetchCount(c: Pick<Clients, "diagnosis">, host: string): Promise<number> {
  try {
    const stats = await call(c.diagnosis.getHostStats, c.diagnosis, GetHostStatsRequest.fromJSON({ host }));
    return stats.fetchCount;
  } catch (e) {
    if ((e as ServiceError).code === status.NOT_FOUND) return 0;
    throw e;
  }
}

export interface LoadOptions {
  port: number;
  clients: number;
  /** A generator per client, so every client draws the same batches whatever the interleaving. */
  random: (client: number) => Random;
  tag: string;
  minRecords: number;
  maxRecords: number;
  /** Called after each acknowledgement with the running count; returns true to stop sending. */
  onAck: (acks: number) => void;
  /** True once the server has been signalled: errors are expected from then on and end the client's loop. */
  stopped: () => boolean;
}

/** Several clients, each with its own connection and one batch in flight, until the server goes away. */
export async function driveLoad(o: LoadOptions): Promise<Batch[]> {
  const batches: Batch[] = [];
  let acks = 0;
  await Promise.all(
    Array.from({ length: o.clients }, async (_, w) => {
      const c = connect(o.port);
      const r = o.random(w);
      try {
        for (let seq = 0; ; seq++) {
          const b = makeBatch(`${o.tag}-c${w}-${seq}`, r.int(o.minRecords, o.maxRecords));
          batches.push(b);
          const sentAfterStop = o.stopped();
          try {
            const res = await call(c.ingest.recordFetches, c.ingest, b.request);
            if (res.acceptedCount !== size(b)) throw new Error(`${b.request.requestId}: accepted ${res.acceptedCount}`);
            b.acked = true;
            o.onAck(++acks);
          } catch (e) {
            const code = (e as ServiceError).code;
            // Refusals under pressure (a full queue) leave the batch unacknowledged, to be resent later.
            const expected = o.stopped() || code === status.UNAVAILABLE || code === status.RESOURCE_EXHAUSTED;
            if (!expected) throw e;
          }
          if (sentAfterStop || (o.stopped() && !b.acked)) return;
        }
      } finally {
        c.closeAll();
      }
    }),
  );
  return batches;
}

/** PRAGMA integrity_check of the database file, opened beside the running server. */
export function integrity(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true });
  try {
    return String(db.pragma("integrity_check", { simple: true }));
  } finally {
    db.close();
  }
}
