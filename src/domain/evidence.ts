import type { AddressStat, HostFacts, Misdirected, PeerHost } from "./diagnosis.js";
import { MISDIRECTED } from "./fetch.js";
import { ConnKind, Protocol } from "./fetch-kind.js";
import type { Thresholds } from "./thresholds.js";
import { DAY_MS } from "./window.js";

/** The 421 sets of diagnosis-rules.md, "Inputs". */
export interface Sets {
  /** Counted 421s: everything but client artifacts. */
  m: Misdirected[];
  /** Client artifacts, shown but never held against the host. */
  x: Misdirected[];
  /** Known: protocol and SNI reported, so each is either coalesced or own-connection. */
  k: Misdirected[];
  c: Misdirected[];
  o: Misdirected[];
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

export function distinctDays(s: readonly Misdirected[]): number {
  return new Set(s.map((f) => Math.floor(f.timeMs / DAY_MS))).size;
}

/** Connections are crawler-scoped; a 421 without a connection id is a connection of its own. */
export function distinctConnections(s: readonly Misdirected[]): number {
  const keys = new Set<string>();
  let unnamed = 0;
  for (const f of s) {
    if (f.connectionId === "") unnamed++;
    else keys.add(`${f.crawler}\n${f.connectionId}`);
  }
  return keys.size + unnamed;
}

export function isRecurring(s: readonly Misdirected[], t: Thresholds): boolean {
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

/** Retried = has at least one retry; recovered = some retry got an answer other than 421. */
export function retryFigures(s: readonly Misdirected[]): RetryFigures {
  const retried = s.filter((f) => f.retryStatuses.length > 0);
  return {
    retried: retried.length,
    recovered: retried.filter((f) => f.retryStatuses.some((st) => st !== MISDIRECTED)).length,
  };
}

/** The retry test: enough retries, and nearly all of them got served on a fresh connection. */
export function retriesRecover(r: RetryFigures, t: Thresholds): boolean {
  return r.retried >= t.minRetried && ratio(r.recovered, r.retried) >= t.minRetryRecoveredShare;
}

/** Peer hosts (the SNI the coalesced connection was opened for), most 421s first, then by name. */
export function peers(c: readonly Misdirected[]): PeerHost[] {
  const counts = new Map<string, number>();
  for (const f of c) {
    const peer = f.sni ?? "";
    counts.set(peer, (counts.get(peer) ?? 0) + 1);
  }
  return [...counts]
    .map(([host, misdirectedCount]) => ({ host, misdirectedCount }))
    .sort((a, b) => b.misdirectedCount - a.misdirectedCount || compare(a.host, b.host));
}

/**
 * Assessed addresses (reported, with enough own-connection fetches for a rate), most own 421s first, then by
 * address; `affected` is left false for the caller to set, since only the edge verdict implicates addresses.
 */
export function assessedAddresses(facts: HostFacts, t: Thresholds): AddressStat[] {
  return facts.own
    .filter((a) => a.address !== "" && a.fetches >= t.assessedMinOwnFetches)
    .map((a) => ({ address: a.address, ownFetchCount: a.fetches, ownMisdirectedCount: a.misdirected, affected: false }))
    .sort((a, b) => b.ownMisdirectedCount - a.ownMisdirectedCount || compare(a.address, b.address));
}

export function ownRate(a: AddressStat): number {
  return ratio(a.ownMisdirectedCount, a.ownFetchCount);
}

/** Distinct reported protocols of the 421s, ascending; "not reported" is not a protocol seen. */
export function protocolsOf(s: readonly Misdirected[]): number[] {
  return [...new Set(s.map((f) => f.protocol))].filter((p) => p !== Protocol.UNSPECIFIED).sort((a, b) => a - b);
}

/** Fields crawlers left out on counted 421s, in the order diagnosis-rules.md names them. */
export function missingFields(m: readonly Misdirected[]): string[] {
  const out: string[] = [];
  if (m.some((f) => f.protocol === Protocol.UNSPECIFIED)) out.push("protocol");
  if (m.some((f) => f.sni === undefined)) out.push("connection.tls_server_name");
  return out;
}

// Code-point order, so the order never depends on the process locale.
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
