import type { AddressStat, AddressTraffic, DetailFetch, HostFacts, PeerHost } from "./diagnosis.js";
import { MISDIRECTED, REFUSAL_STATUSES } from "./fetch.js";
import { ConnKind, Protocol } from "./fetch-kind.js";
import type { Thresholds } from "./thresholds.js";
import { DAY_MS } from "./window.js";

/** The 421 sets of diagnosis-rules.md, "Inputs". */
export interface Sets {
  /** Counted 421s: everything but client artifacts. */
  m: DetailFetch[];
  /** Client artifacts, shown but never held against the host. */
  x: DetailFetch[];
  /** Known: protocol and SNI reported, so each is either coalesced or own-connection. */
  k: DetailFetch[];
  c: DetailFetch[];
  o: DetailFetch[];
}

export function partition(facts: HostFacts): Sets {
  const m = facts.misdirected.filter((f) => f.kind !== ConnKind.CLIENT_ARTIFACT);
  const x = facts.misdirected.filter((f) => f.kind === ConnKind.CLIENT_ARTIFACT);
  const k = m.filter(
    (f) => f.protocol !== Protocol.UNSPECIFIED && (f.kind === ConnKind.OWN || f.kind === ConnKind.COALESCED),
  );
  return {
    m,
    x,
    k,
    c: k.filter((f) => f.kind === ConnKind.COALESCED),
    o: k.filter((f) => f.kind === ConnKind.OWN),
  };
}

/**
 * a / b, 0 when b is 0. Rules compare ratios rather than products (|C| / |K| >= 0.8, not |C| >= 0.8 x |K|): a
 * correctly rounded quotient equal to a decimal threshold compares equal to it, a product may miss by one ulp.
 */
export function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

export function distinctDays(s: readonly DetailFetch[]): number {
  return new Set(s.map((f) => Math.floor(f.timeMs / DAY_MS))).size;
}

/** Connections are crawler-scoped; a 421 without a connection id is a connection of its own. */
export function distinctConnections(s: readonly DetailFetch[]): number {
  const keys = new Set<string>();
  let unnamed = 0;
  for (const f of s) {
    if (f.connectionId === "") unnamed++;
    else keys.add(`${f.crawler}\n${f.connectionId}`);
  }
  return keys.size + unnamed;
}

export function isRecurring(s: readonly DetailFetch[], t: Thresholds): boolean {
  return (
    s.length >= t.recurringMinCount &&
    distinctDays(s) >= t.recurringMinDays &&
    distinctConnections(s) >= t.recurringMinConnections
  );
}

export interface RetryFigures {
  retried: number;
  recovered: number;
}

const NOT_SERVED: ReadonlySet<number> = new Set([MISDIRECTED]);
const NOT_SERVED_REFUSAL: ReadonlySet<number> = new Set([MISDIRECTED, ...REFUSAL_STATUSES]);

/**
 * Retried = has at least one retry; recovered = some retry got served: for a 421 any other answer, for a refusal
 * an answer that is neither a refusal status nor 421.
 */
export function retryFigures(s: readonly DetailFetch[], notServed = NOT_SERVED): RetryFigures {
  const retried = s.filter((f) => f.retryStatuses.length > 0);
  return {
    retried: retried.length,
    recovered: retried.filter((f) => f.retryStatuses.some((st) => !notServed.has(st))).length,
  };
}

export function refusalRetryFigures(f: readonly DetailFetch[]): RetryFigures {
  return retryFigures(f, NOT_SERVED_REFUSAL);
}

/** The retry test: enough retries, and nearly all of them got served on a fresh connection. */
export function retriesRecover(r: RetryFigures, t: Thresholds): boolean {
  return r.retried >= t.minRetried && ratio(r.recovered, r.retried) >= t.minRetryRecoveredShare;
}

/** Peer hosts (the SNI the coalesced connection was opened for), most fetches first, then by name. */
export function peers(c: readonly DetailFetch[]): PeerHost[] {
  const counts = new Map<string, number>();
  for (const f of c) {
    const peer = f.sni ?? "";
    counts.set(peer, (counts.get(peer) ?? 0) + 1);
  }
  return [...counts]
    .map(([host, misdirectedCount]) => ({ host, misdirectedCount }))
    .sort((a, b) => b.misdirectedCount - a.misdirectedCount || compare(a.host, b.host));
}

/** An address with enough own-connection fetches for its 421 rate r(a) to mean something. */
export function isAssessed(a: AddressTraffic, t: Thresholds): boolean {
  return a.address !== "" && a.ownFetches >= t.assessedMinOwnFetches;
}

/** r(a): own-connection 421s at the address over its own-connection fetches. */
export function ownRate(a: AddressTraffic): number {
  return ratio(a.ownMisdirected, a.ownFetches);
}

/**
 * The address serves the host: enough non-421 answers on any connection, and, where its own connections are
 * assessed, a clean rate. A browser-like crawler may reach a healthy edge node only over a sibling's connection.
 */
export function serves(a: AddressTraffic, t: Thresholds): boolean {
  return (
    a.address !== "" && a.answered >= t.servesMinAnswers && (!isAssessed(a, t) || ownRate(a) <= t.edgeCleanMaxRate)
  );
}

/**
 * The evidence's addresses: every one assessed or serving the host, most own 421s first, then by address.
 * `affected` is left false for the caller to set, since only the edge verdict implicates addresses.
 */
export function addressStats(facts: HostFacts, t: Thresholds): AddressStat[] {
  return facts.traffic
    .filter((a) => isAssessed(a, t) || serves(a, t))
    .map((a) => ({
      address: a.address,
      ownFetchCount: a.ownFetches,
      ownMisdirectedCount: a.ownMisdirected,
      affected: false,
      answeredCount: a.answered,
    }))
    .sort((a, b) => b.ownMisdirectedCount - a.ownMisdirectedCount || compare(a.address, b.address));
}

/** Distinct reported protocols of the 421s, ascending; "not reported" is not a protocol seen. */
export function protocolsOf(s: readonly DetailFetch[]): number[] {
  return [...new Set(s.map((f) => f.protocol))].filter((p) => p !== Protocol.UNSPECIFIED).sort((a, b) => a - b);
}

/** Fields crawlers left out on counted 421s, in the order diagnosis-rules.md names them. */
export function missingFields(m: readonly DetailFetch[]): string[] {
  const out: string[] = [];
  if (m.some((f) => f.protocol === Protocol.UNSPECIFIED)) out.push("protocol");
  if (m.some((f) => f.sni === undefined)) out.push("connection.tls_server_name");
  return out;
}

// Code-point order, so the order never depends on the process locale.
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
