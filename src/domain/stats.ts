import type { Window } from "./diagnosis.js";
import { DomainError, invalidArgument } from "./errors.js";
import { MISDIRECTED } from "./fetch.js";
import { normaliseQueryHost } from "./host.js";
import type { ReadStore } from "./read-store.js";
import { DAY_MS, HOUR_MS, resolveWindow, type WindowInput } from "./window.js";

/** StatsBucket numbers, as in the proto enum. */
export const Bucket = { UNSPECIFIED: 0, HOUR: 1, DAY: 2 } as const;

export interface StatsQuery {
  host: string;
  window?: WindowInput | undefined;
  bucket: number;
}

export interface HostStats {
  host: string;
  fetchCount: number;
  misdirectedCount: number;
  statusCounts: { statusCode: number; count: number }[];
  protocolCounts: { protocol: number; count: number }[];
  buckets: { startTime: Date; fetchCount: number; misdirectedCount: number }[];
}

/**
 * Resolves and checks a host named in a query; an unknown host is NOT_FOUND. `factsOver`: the caller reads the
 * host's facts over that window next (ReadStore.prefetchFacts).
 */
export async function knownHost(
  store: ReadStore,
  raw: string,
  factsOver?: Window,
): Promise<{ host: string; hostId: number }> {
  if (raw === "") throw invalidArgument("host", "required");
  const host = normaliseQueryHost(raw);
  if (host === undefined) throw invalidArgument("host", "not a valid DNS name or IP address (with optional :port)");
  if (factsOver !== undefined) store.prefetchFacts?.(host, factsOver);
  const hostId = await store.findHost(host);
  if (hostId === undefined) throw new DomainError("not_found", `host: ${host} has never been seen`);
  return { host, hostId };
}

export async function hostStats(
  store: ReadStore,
  q: StatsQuery,
  nowMs: number,
  defaultDays: number,
): Promise<HostStats> {
  if (q.bucket !== Bucket.UNSPECIFIED && q.bucket !== Bucket.HOUR && q.bucket !== Bucket.DAY) {
    throw invalidArgument("bucket", "unknown StatsBucket value");
  }
  const window = resolveWindow(q.window, nowMs, defaultDays);
  const { host, hostId } = await knownHost(store, q.host);
  const width = q.bucket === Bucket.HOUR ? HOUR_MS : DAY_MS;
  const statuses = new Map<number, number>();
  const protocols = new Map<number, number>();
  const buckets = new Map<number, { fetchCount: number; misdirectedCount: number }>();
  let fetchCount = 0;
  let misdirectedCount = 0;
  for (const row of await store.hourlyStats(hostId, window)) {
    fetchCount += row.count;
    statuses.set(row.status, (statuses.get(row.status) ?? 0) + row.count);
    protocols.set(row.protocol, (protocols.get(row.protocol) ?? 0) + row.count);
    const start = Math.floor((row.hour * HOUR_MS) / width) * width;
    const b = buckets.get(start) ?? { fetchCount: 0, misdirectedCount: 0 };
    b.fetchCount += row.count;
    if (row.status === MISDIRECTED) {
      b.misdirectedCount += row.count;
      misdirectedCount += row.count;
    }
    buckets.set(start, b);
  }
  const ascending = <T>(m: Map<number, T>) => [...m.entries()].sort((a, b) => a[0] - b[0]);
  return {
    host,
    fetchCount,
    misdirectedCount,
    statusCounts: ascending(statuses).map(([statusCode, count]) => ({ statusCode, count })),
    protocolCounts: ascending(protocols).map(([protocol, count]) => ({ protocol, count })),
    buckets: ascending(buckets).map(([start, b]) => ({ startTime: new Date(start), ...b })),
  };
}
