import type { AddressTraffic, Window } from "../../domain/diagnosis.js";
import { windowSpans } from "../../domain/window.js";
import * as q from "./queries.js";

/** A host's traffic over a window, per server address, as HostFacts wants it. */
export interface HostTraffic {
  fetchCount: number;
  addresses: AddressTraffic[];
  /** Latest hour (since the epoch) of an own-connection answer other than 421. */
  lastOwnAnsweredHour: number | undefined;
}

type Num = string | number;
interface Row {
  host: string;
  address: string;
  fetches: Num;
  answered: Num;
  own_fetches: Num;
  own_misdirected: Num;
  own_refused: Num;
  own_last_answered: Num | null;
  /** How many rows had an own answer (hourly maxIf gives 0, not NULL, when none did; 1 for daily rows). */
  own_answered_rows: Num;
}

type Select = <T>(query: string) => Promise<T[]>;

/**
 * Per-address traffic of some hosts over a window, by host: whole UTC days from fetch_daily, the hours of the
 * partial days from fetch_hourly (both at once), added up as SQLite's Reader.facts does.
 */
export async function trafficOf(
  select: Select,
  c: q.Ctx,
  hosts: q.HostFilter,
  w: Window,
): Promise<Map<string, HostTraffic>> {
  const s = windowSpans(w);
  const parts = [
    ...(s.days === undefined ? [] : [q.dailyTraffic(c, hosts, w, s.days)]),
    ...(s.hours.length === 0 ? [] : [q.hourlyTraffic(c, hosts, w, s.hours)]),
  ];
  const rows = parts.length === 0 ? [] : await select<Row>(parts.join("\nUNION ALL\n"));
  const sums = new Map<string, Sum>();
  for (const r of rows) add(sums, r);
  const out = new Map<string, HostTraffic>();
  for (const [host, h] of sums) {
    out.set(host, { fetchCount: h.fetchCount, addresses: [...h.byAddress.values()], lastOwnAnsweredHour: h.last });
  }
  return out;
}

interface Sum {
  fetchCount: number;
  byAddress: Map<string, AddressTraffic>;
  last: number | undefined;
}

function add(sums: Map<string, Sum>, r: Row): void {
  let h = sums.get(r.host);
  if (h === undefined) {
    h = { fetchCount: 0, byAddress: new Map(), last: undefined };
    sums.set(r.host, h);
  }
  h.fetchCount += Number(r.fetches);
  let a = h.byAddress.get(r.address);
  if (a === undefined) {
    a = { address: r.address, ownFetches: 0, ownMisdirected: 0, ownRefused: 0, answered: 0 };
    h.byAddress.set(r.address, a);
  }
  a.answered += Number(r.answered);
  a.ownFetches += Number(r.own_fetches);
  a.ownMisdirected += Number(r.own_misdirected);
  a.ownRefused += Number(r.own_refused);
  const hasLast = r.own_last_answered !== null && Number(r.own_answered_rows) > 0;
  if (hasLast) {
    const last = Number(r.own_last_answered);
    h.last = Math.max(h.last ?? last, last);
  }
}
