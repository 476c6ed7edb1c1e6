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
  [Kind.CONNECTION_COALESCING]: 3,
  [Kind.INSUFFICIENT_EVIDENCE]: 4,
  [Kind.NOT_RECURRING]: 5,
  [Kind.NO_MISDIRECTED_REQUESTS]: 6,
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

const sortKey = (d: Diagnosis): (string | number)[] => [RANK[d.kind] ?? 9, -d.misdirectedCount, d.host];

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

/** Facts of the hosts that can match: those with a 421, or (when asked for) every host fetched. */
function candidates(store: ReadStore, w: Window, everyHost: boolean, matches: (host: string) => boolean) {
  const out = [];
  const seen = new Set<number>();
  for (const m of store.misdirectedByHost(w)) {
    seen.add(m.hostId);
    if (matches(m.host)) out.push(store.facts(m.hostId, m.host, w, m.misdirected));
  }
  if (everyHost) {
    for (const hostId of store.hostsFetched(w)) {
      if (seen.has(hostId)) continue;
      const host = store.nameOf(hostId);
      if (matches(host)) out.push(store.facts(hostId, host, w, []));
    }
  }
  return out;
}
