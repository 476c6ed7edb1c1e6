import type { HostFacts, Window } from "../../domain/diagnosis.js";
import type { HostDetail } from "../../domain/read-store.js";
import { HOUR_MS } from "../../domain/window.js";
import { detailsOf } from "./detail.js";
import type * as q from "./queries.js";
import { type HostTraffic, trafficOf } from "./traffic.js";

type Select = <T>(query: string) => Promise<T[]>;

// Host names in one IN list: 1000 of 253 characters at most stay under max_query_size (256 KiB).
const HOSTS_PER_QUERY = 1000;

export const noTraffic = (): HostTraffic => ({ fetchCount: 0, addresses: [], lastOwnAnsweredHour: undefined });

/** Hosts in lists short enough for one query each. */
export function chunksOf(hosts: readonly string[]): (readonly string[])[] {
  const chunks = [];
  for (let i = 0; i < hosts.length; i += HOSTS_PER_QUERY) chunks.push(hosts.slice(i, i + HOSTS_PER_QUERY));
  return chunks;
}

/** The facts of each of `hosts` (every one, with or without rows), in three queries whatever their number. */
export async function factsOfHosts(
  select: Select,
  c: q.Ctx,
  hosts: readonly string[],
  w: Window,
  idOf: (host: string) => number,
): Promise<Map<string, HostFacts>> {
  const filter = hosts.length === 1 ? { host: hosts[0] as string } : { hosts };
  const [detail, traffic] = await Promise.all([detailsOf(select, c, filter, w, idOf), trafficOf(select, c, filter, w)]);
  const out = new Map<string, HostFacts>();
  for (const host of hosts) {
    const d = detail.get(host) ?? { hostId: idOf(host), host, misdirected: [], refused: [] };
    out.set(host, factsOf(d, w, traffic.get(host)));
  }
  return out;
}

export function factsOf(detail: HostDetail, w: Window, t: HostTraffic | undefined): HostFacts {
  return {
    host: detail.host,
    window: w,
    fetchCount: t?.fetchCount ?? 0,
    misdirected: detail.misdirected,
    refused: detail.refused,
    traffic: t?.addresses ?? [],
    lastOwnAnsweredHourMs: t?.lastOwnAnsweredHour === undefined ? undefined : t.lastOwnAnsweredHour * HOUR_MS,
  };
}
