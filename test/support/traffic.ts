import type { FetchRecord } from "../../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { HttpProtocol } from "../../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { record } from "./records.js";

/** Traffic for one host, spread over June 2026 (tests run these with retention off). */
export const JUNE = { startTime: new Date("2026-06-01T00:00:00Z"), endTime: new Date("2026-07-01T00:00:00Z") };
const DAY = 86_400_000;
let n = 0;

export interface Options {
  status?: number;
  /** Fetches go round-robin over this many UTC days (from June 1st, or `firstDay`). */
  days?: number;
  firstDay?: number;
  /** All on one connection instead of one connection each. */
  oneConnection?: boolean;
  address?: string;
  protocol?: HttpProtocol;
}

const at = (o: Options, i: number) =>
  new Date(JUNE.startTime.getTime() + ((o.firstDay ?? 0) + (i % (o.days ?? 2))) * DAY + 10 * 3_600_000 + i * 1000);

function many(count: number, o: Options, make: (i: number, conn: string, time: Date) => FetchRecord): FetchRecord[] {
  const id = ++n;
  return Array.from({ length: count }, (_, i) => make(i, o.oneConnection ? `c${id}` : `c${id}-${i}`, at(o, i)));
}

/** Fetches on connections opened for the host itself. */
export function own(host: string, count: number, o: Options = {}): FetchRecord[] {
  return many(count, o, (_, connectionId, fetchedAt) =>
    record({
      url: `https://${host}/`,
      statusCode: o.status ?? 200,
      fetchedAt,
      protocol: o.protocol ?? HttpProtocol.HTTP_PROTOCOL_HTTP2,
      connection: { connectionId, tlsServerName: host, remoteAddress: o.address ?? "192.0.2.1" },
    }),
  );
}

/**
 * Fetches (421s unless `status` says otherwise) on connections opened for `peer` and reused for the host; each
 * optionally retried on a fresh own connection with the given statuses (one per fetch, in turn).
 */
export function coalesced(host: string, peer: string, count: number, o: Options & { retries?: number[] } = {}) {
  const out = many(count, o, (_, connectionId, fetchedAt) =>
    record({
      url: `https://${host}/`,
      statusCode: o.status ?? 421,
      fetchedAt,
      protocol: o.protocol ?? HttpProtocol.HTTP_PROTOCOL_HTTP2,
      connection: { connectionId, tlsServerName: peer, requestIndex: 3, remoteAddress: o.address ?? "192.0.2.1" },
    }),
  );
  const withRetries: FetchRecord[] = [];
  out.forEach((r, i) => {
    withRetries.push(r);
    const status = o.retries?.[i];
    if (status === undefined) return;
    withRetries.push(
      record({
        url: r.url,
        statusCode: status,
        fetchedAt: new Date((r.fetchedAt?.getTime() ?? 0) + 500),
        retryOf: r.fetchId,
        connection: {
          connectionId: `${r.connection?.connectionId}-retry`,
          tlsServerName: host,
          remoteAddress: "192.0.2.1",
        },
      }),
    );
  });
  return withRetries;
}

/** 421s whose crawler reported neither protocol nor connection. */
export function unreported(host: string, count: number, o: Options = {}): FetchRecord[] {
  return many(count, o, (_, _conn, fetchedAt) =>
    record({ url: `https://${host}/`, statusCode: o.status ?? 421, fetchedAt, protocol: 0, connection: null }),
  );
}
