import { diagnose } from "./classify.js";
import { type Diagnosis, Kind, type Window } from "./diagnosis.js";
import { invalidArgument } from "./errors.js";
import { normaliseHostname } from "./host.js";
import { compareKeys, decodeToken, encodeToken, fingerprint, pageSize, takePage } from "./page-token.js";
import type { ReadStore } from "./read-store.js";
import { knownHost } from "./stats.js";
import type { Thresholds } from "./thresholds.js";
import { resolveWindow, type WindowInput } from "./window.js";

/** Severity order of the list: MIXED first, NO_MISDIRECTED_REQUESTS last. */
const RANK: Record<number, number> = {
  [Kind.MIXED]: 0,
  [Kind.VIRTUAL_HOST]: 1,
  [Kind.EDGE_ROUTING]: 2,
  // Before coalescing: browsers recover from a coalesced 421 by retrying, but not from a refusal.
  [Kind.COALESCING_REFUSED]: 3,
  [Kind.CONNECTION_COALESCING]: 4,
  [Kind.INSUFFICIENT_EVIDENCE]: 5,
  [Kind.NOT_RECURRING]: 6,
  [Kind.NO_MISDIRECTED_REQUESTS]: 7,
};

export interface ListQuery {
  window?: WindowInput | undefined;
  kinds: number[];
  hostSuffix: string;
  includeResolved: boolean;
  pageSize: number;
  pageToken: string;
}

export function hostDiagnosis(
  store: ReadStore,
  raw: string,
  window: WindowInput | undefined,
  nowMs: number,
  t: Thresholds,
) {
  const w = resolveWindow(window, nowMs, t.defaultWindowDays);
  const { host, hostId } = knownHost(store, raw);
  return diagnose(store.hostFacts(hostId, host, w), t);
}

/** Within a kind, the most of the kind's own evidence first: refusals for COALESCING_REFUSED, 421s otherwise. */
const sortKey = (d: Diagnosis): (string | number)[] => [
  RANK[d.kind] ?? 9,
  -(d.kind === Kind.COALESCING_REFUSED ? d.refusedCount : d.misdirectedCount),
  d.host,
];

export function listDiagnoses(store: ReadStore, q: ListQuery, nowMs: number, t: Thresholds) {
  const size = pageSize(q.pageSize);
  for (const k of q.kinds) {
    if (RANK[k] === undefined) throw invalidArgument("kinds", `unknown DiagnosisKind value ${k}`);
  }
  const kinds = q.kinds.length === 0 ? Object.values(Kind).filter((k) => k !== Kind.NO_MISDIRECTED_REQUESTS) : q.kinds;
  const suffix = q.hostSuffix === "" ? "" : normaliseHostname(q.hostSuffix);
  if (suffix === undefined) throw invalidArgument("host_suffix", "not a valid DNS name");
  const filters = fingerprint({
    w: [q.window?.startTime?.getTime() ?? null, q.window?.endTime?.getTime() ?? null],
    k: [...new Set(kinds)].sort(),
    s: suffix,
    r: q.includeResolved,
  });
  const state = q.pageToken === "" ? undefined : decodeToken(q.pageToken, filters);
  const window = state?.window ?? resolveWindow(q.window, nowMs, t.defaultWindowDays);
  const wanted = new Set(kinds);
  const matches = (host: string) =>
    suffix === "" || host === suffix || (host.endsWith(suffix) && host[host.length - suffix.length - 1] === ".");
  const rows = candidates(store, window, wanted.has(Kind.NO_MISDIRECTED_REQUESTS), matches)
    .map((facts) => diagnose(facts, t))
    .filter((d) => wanted.has(d.kind) && (q.includeResolved || !d.resolved))
    .sort((a, b) => compareKeys(sortKey(a), sortKey(b)));
  const { page, next } = takePage(rows, sortKey, state?.after ?? [], size);
  return {
    diagnoses: page,
    nextPageToken: next === undefined ? "" : encodeToken({ filters, window, after: next }),
  };
}

/** Facts of the hosts that can match: those with a 421 or a refusal, or (when asked for) every host fetched. */
function candidates(store: ReadStore, w: Window, everyHost: boolean, matches: (host: string) => boolean) {
  const out = [];
  const seen = new Set<number>();
  for (const detail of store.detailByHost(w)) {
    seen.add(detail.hostId);
    if (matches(detail.host)) out.push(store.facts(detail, w));
  }
  if (everyHost) {
    for (const hostId of store.hostsFetched(w)) {
      if (seen.has(hostId)) continue;
      const host = store.nameOf(hostId);
      if (matches(host)) out.push(store.facts({ hostId, host, misdirected: [], refused: [] }, w));
    }
  }
  return out;
}
