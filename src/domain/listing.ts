import { diagnose } from "./classify.js";
import { type Diagnosis, Kind, type Window } from "./diagnosis.js";
import type { DiagnosisCache, WindowEntry } from "./diagnosis-cache.js";
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

/** Where the queries read from and what they keep between calls. */
export interface ReadContext {
  store: ReadStore;
  rules: Thresholds;
  cache: DiagnosisCache;
}

export async function hostDiagnosis(ctx: ReadContext, raw: string, window: WindowInput | undefined, nowMs: number) {
  const w = resolveWindow(window, nowMs, ctx.rules.defaultWindowDays);
  const { host, hostId } = await knownHost(ctx.store, raw, w);
  return diagnosisOf(ctx, ctx.cache.entry(w), hostId, host, w);
}

/**
 * The host's diagnosis: kept from an earlier call unless its data changed since, else computed and kept (with its
 * 421s and refusals, where the cache keeps them). If only its traffic changed, from those and its traffic.
 */
async function diagnosisOf(ctx: ReadContext, entry: WindowEntry, hostId: number, host: string, w: Window) {
  const kept = entry.diagnoses.get(hostId);
  if (kept !== undefined) return kept;
  const detail = entry.details.get(hostId);
  const facts = detail !== undefined ? await ctx.store.facts(detail, w) : await ctx.store.hostFacts(hostId, host, w);
  const d = diagnose(facts, ctx.rules);
  entry.put(hostId, d, { hostId, host, misdirected: facts.misdirected, refused: facts.refused });
  return d;
}

/** Within a kind, the most of the kind's own evidence first: refusals for COALESCING_REFUSED, 421s otherwise. */
const sortKey = (d: Diagnosis): (string | number)[] => [
  RANK[d.kind] ?? 9,
  -(d.kind === Kind.COALESCING_REFUSED ? d.refusedCount : d.misdirectedCount),
  d.host,
];

export async function listDiagnoses(ctx: ReadContext, q: ListQuery, nowMs: number) {
  const t = ctx.rules;
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
  const rows = (await candidates(ctx, window, wanted.has(Kind.NO_MISDIRECTED_REQUESTS), matches))
    .filter((d) => wanted.has(d.kind) && (q.includeResolved || !d.resolved))
    .sort((a, b) => compareKeys(sortKey(a), sortKey(b)));
  const { page, next } = takePage(rows, sortKey, state?.after ?? [], size);
  return {
    diagnoses: page,
    nextPageToken: next === undefined ? "" : encodeToken({ filters, window, after: next }),
  };
}

/**
 * Diagnoses of the hosts that can match: those with a 421 or a refusal in the window, or (when asked for) every
 * host fetched. The first call for a window finds the hosts with 421s from the store's detail index; later calls
 * reuse what the cache kept and diagnose again only the hosts whose data changed.
 */
async function candidates(ctx: ReadContext, w: Window, everyHost: boolean, matches: (host: string) => boolean) {
  const { store, rules, cache } = ctx;
  const entry = cache.entry(w);
  const out: Diagnosis[] = [];
  if (entry.candidates === undefined) {
    const found = new Map<number, string>();
    for await (const detail of store.detailByHost(w)) {
      found.set(detail.hostId, detail.host);
      if (!matches(detail.host)) continue;
      const d = entry.diagnoses.get(detail.hostId) ?? diagnose(await store.facts(detail, w), rules);
      entry.put(detail.hostId, d, detail);
      out.push(d);
    }
    entry.candidates = found;
  } else {
    // The hosts to diagnose again: from their kept 421s and fresh traffic if only their traffic changed.
    const stale: string[] = [];
    const trafficOnly: string[] = [];
    for (const [hostId, known] of entry.candidates) {
      const host = known === "" ? await store.nameOf(hostId) : known;
      if (known === "") entry.candidates.set(hostId, host);
      if (!matches(host) || entry.diagnoses.has(hostId)) continue;
      (entry.details.has(hostId) ? trafficOnly : stale).push(host);
    }
    await Promise.all([
      stale.length > 1 ? store.prefetchFactsOf?.(stale, w) : undefined,
      trafficOnly.length > 1 ? store.prefetchTrafficOf?.(trafficOnly, w) : undefined,
    ]);
    for (const [hostId, host] of entry.candidates) {
      if (!matches(host)) continue;
      const d = await diagnosisOf(ctx, entry, hostId, host, w);
      // A host reported changed that has, after all, no 421 or refusal in this window.
      if (d.misdirectedCount + d.excludedClientSideCount + d.refusedCount === 0) {
        entry.candidates.delete(hostId);
        continue;
      }
      out.push(d);
    }
  }
  if (everyHost) {
    // Hosts without 421s are not kept: there may be millions.
    for (const hostId of await store.hostsFetched(w)) {
      if (entry.candidates.has(hostId)) continue;
      const host = await store.nameOf(hostId);
      if (!matches(host)) continue;
      out.push(diagnose(await store.facts({ hostId, host, misdirected: [], refused: [] }, w), rules));
    }
  }
  return out;
}
