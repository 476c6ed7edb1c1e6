import {
  type AddressTraffic,
  Confidence,
  type DetailFetch,
  type Diagnosis,
  type HostFacts,
  Kind,
} from "./diagnosis.js";
import {
  addressStats,
  distinctConnections,
  distinctDays,
  isAssessed,
  isRecurring,
  missingFields,
  ownRate,
  partition,
  peers,
  protocolsOf,
  type RetryFigures,
  ratio,
  refusalRetryFigures,
  retriesRecover,
  retryFigures,
  type Sets,
  serves,
} from "./evidence.js";
import { remediation, summary } from "./explain.js";
import { DEFAULT_THRESHOLDS, type Thresholds } from "./thresholds.js";
import { DAY_MS } from "./window.js";

// Rule 4 tolerates one own-connection 421 whatever the rate: a single one says nothing about the vhost setup.
// Not a [J] of the rules, so not configurable.
const TOLERATED_OWN_421S = 1;

interface Verdict {
  kind: Kind;
  confidence: Confidence;
  /** Rule 5a held: the addresses with a high own-connection 421 rate are the affected ones. */
  edge: boolean;
}

interface Figures {
  sets: Sets;
  retry: RetryFigures;
  /** Own-connection fetches of the host, any status, any address. */
  ownTraffic: number;
  ownRate: number;
  traffic: readonly AddressTraffic[];
}

/** Classifies one host's 421s by the diagnosis rules (docs/diagnosis.md): the first rule that applies decides. */
export function diagnose(facts: HostFacts, t: Thresholds = DEFAULT_THRESHOLDS): Diagnosis {
  const sets = partition(facts);
  const ownTraffic = facts.traffic.reduce((sum, a) => sum + a.ownFetches, 0);
  const figures: Figures = {
    sets,
    retry: retryFigures(sets.c),
    ownTraffic,
    ownRate: ratio(sets.o.length, ownTraffic),
    traffic: facts.traffic,
  };
  const refusalRetry = refusalRetryFigures(facts.refused);
  let verdict = decide(figures, t);
  // Rule 7 only speaks where rules 1-6 found nothing to act on.
  if (verdict.kind === Kind.NO_MISDIRECTED_REQUESTS || verdict.kind === Kind.NOT_RECURRING) {
    verdict = decideRefused(facts, refusalRetry, t) ?? verdict;
  }
  const refusedKind = verdict.kind === Kind.COALESCING_REFUSED;
  const addresses = addressStats(facts, t);
  // For VIRTUAL_HOST no address is marked affected: the name is missing behind every address, so no address is
  // singled out; `affected` stays the edge-routing finding (EDGE_ROUTING, or MIXED reached through rule 5a).
  if (verdict.edge) {
    for (const a of addresses) {
      a.affected =
        a.ownFetchCount >= t.assessedMinOwnFetches &&
        ratio(a.ownMisdirectedCount, a.ownFetchCount) >= t.edgeAffectedMinRate;
    }
  }
  // The kind's own evidence: the refusals for COALESCING_REFUSED, the counted 421s otherwise.
  const evidence = refusedKind ? facts.refused : sets.m;
  const { firstMs, lastMs } = timeSpan(evidence);
  const retry = refusedKind ? refusalRetry : figures.retry;
  const ownRetry = retryFigures(sets.o);
  const d: Diagnosis = {
    name: `hosts/${facts.host}`,
    host: facts.host,
    kind: verdict.kind,
    confidence: verdict.confidence,
    resolved: isResolved(verdict.kind, facts, lastMs, t),
    summary: "",
    remediation: "",
    window: { ...facts.window },
    fetchCount: facts.fetchCount,
    misdirectedCount: sets.m.length,
    coalescedMisdirectedCount: sets.c.length,
    ownConnectionMisdirectedCount: sets.o.length,
    excludedClientSideCount: sets.x.length,
    retriedCount: retry.retried,
    retryRecoveredCount: retry.recovered,
    distinctDays: distinctDays(evidence),
    distinctConnections: distinctConnections(evidence),
    firstSeenMs: firstMs,
    lastSeenMs: lastMs,
    coalescedFrom: peers(refusedKind ? facts.refused : sets.c),
    addresses,
    misdirectedProtocols: protocolsOf(sets.m),
    missingFields: verdict.kind === Kind.INSUFFICIENT_EVIDENCE ? missingFields(sets.m) : [],
    ownRetriedCount: ownRetry.retried,
    ownRetryRecoveredCount: ownRetry.recovered,
    refusedCount: facts.refused.length,
    refusedStatuses: [...new Set(facts.refused.map((f) => f.status))].sort((a, b) => a - b),
  };
  d.summary = summary(d);
  d.remediation = remediation(d.kind, d.missingFields);
  return d;
}

function decide(f: Figures, t: Thresholds): Verdict {
  const { m, k, c, o } = f.sets;
  // Rule 1: X may be non-empty, but client artifacts never count against the host.
  if (m.length === 0) return { kind: Kind.NO_MISDIRECTED_REQUESTS, confidence: Confidence.MEDIUM, edge: false };
  // Rule 2.
  if (!isRecurring(m, t)) return { kind: Kind.NOT_RECURRING, confidence: Confidence.MEDIUM, edge: false };
  // Rule 3: too few 421s carry the connection facts that tell the causes apart.
  if (k.length < t.minKnown || ratio(k.length, m.length) < t.minKnownShare) return insufficient();

  const coalescedRecurs = isRecurring(c, t);
  const retryTest = retriesRecover(f.retry, t);
  // Own traffic shows the host serves its own connections; this is the "clean-own-traffic test" of confidence.
  const ownAnswers = f.ownTraffic > 0 && f.ownRate <= t.ownAnswersMaxRate;

  // Rule 4.
  const ownClean = o.length <= TOLERATED_OWN_421S || f.ownRate <= t.ownCleanMaxRate;
  const hostAnswers = retryTest || (f.retry.retried < t.minRetried && ownAnswers);
  if (coalescedRecurs && ratio(c.length, k.length) >= t.minCoalescedShare && ownClean && hostAnswers) {
    const originFrame = c.some((x) => x.originFrame === true);
    const high = originFrame || (retryTest && ownAnswers);
    return { kind: Kind.CONNECTION_COALESCING, confidence: high ? Confidence.HIGH : Confidence.MEDIUM, edge: false };
  }

  // Rule 5: the vhost family.
  if (isRecurring(o, t)) {
    const assessed = f.traffic.filter((a) => isAssessed(a, t));
    // 5a: an affected edge node, and another address that serves the name (on any connection).
    const edge = assessed.some(
      (a) => ownRate(a) >= t.edgeAffectedMinRate && f.traffic.some((b) => b !== a && serves(b, t)),
    );
    // Both findings hold: report both rather than averaging coalesced and own-connection evidence into one rate.
    if (coalescedRecurs && retryTest) return { kind: Kind.MIXED, confidence: Confidence.MEDIUM, edge };
    if (edge) return { kind: Kind.EDGE_ROUTING, confidence: Confidence.MEDIUM, edge };
    // Without any assessed address "every address fails" would hold vacuously: no evidence, so no HIGH.
    const everywhere = assessed.length > 0 && assessed.every((a) => ownRate(a) >= t.edgeAffectedMinRate);
    return { kind: Kind.VIRTUAL_HOST, confidence: everywhere ? Confidence.HIGH : Confidence.MEDIUM, edge: false };
  }
  // Rule 6: known 421s recur, but neither the coalesced nor the own-connection ones make a pattern of their own.
  return insufficient();
}

/**
 * Rule 7: coalesced requests refused with 400/403 recur, and the host itself answers, so the refusal is about the
 * connection, not the page (a 403 the host also serves on its own connections is content).
 */
function decideRefused(facts: HostFacts, retry: RetryFigures, t: Thresholds): Verdict | undefined {
  if (!isRecurring(facts.refused, t)) return undefined;
  const retryTest = retriesRecover(retry, t);
  let own = 0;
  let ownRefused = 0;
  for (const a of facts.traffic) {
    own += a.ownFetches;
    ownRefused += a.ownRefused;
  }
  const ownServes = own > 0 && ratio(ownRefused, own) <= t.ownRefusalMaxRate;
  if (!retryTest && !(retry.retried < t.minRetried && ownServes)) return undefined;
  return {
    kind: Kind.COALESCING_REFUSED,
    confidence: retryTest ? Confidence.HIGH : Confidence.MEDIUM,
    edge: false,
  };
}

function insufficient(): Verdict {
  return { kind: Kind.INSUFFICIENT_EVIDENCE, confidence: Confidence.LOW, edge: false };
}

// A loop, not Math.min(...times): a busy host can have more 421s than a call has room for arguments.
function timeSpan(s: readonly DetailFetch[]): { firstMs: number | undefined; lastMs: number | undefined } {
  let firstMs: number | undefined;
  let lastMs: number | undefined;
  for (const { timeMs } of s) {
    if (firstMs === undefined || timeMs < firstMs) firstMs = timeMs;
    if (lastMs === undefined || timeMs > lastMs) lastMs = timeMs;
  }
  return { firstMs, lastMs };
}

const RESOLVABLE: ReadonlySet<Kind> = new Set<Kind>([
  Kind.CONNECTION_COALESCING,
  Kind.VIRTUAL_HOST,
  Kind.EDGE_ROUTING,
  Kind.MIXED,
  Kind.COALESCING_REFUSED,
]);

/**
 * Resolved: quiet for long enough, and the host answered its own connections after the last 421 (or refusal).
 * The answered time is only known to the hour, so it must start strictly after that fetch (conservative).
 */
function isResolved(kind: Kind, facts: HostFacts, lastSeenMs: number | undefined, t: Thresholds): boolean {
  if (!RESOLVABLE.has(kind) || lastSeenMs === undefined) return false;
  const answered = facts.lastOwnAnsweredHourMs;
  return (
    facts.window.endMs - lastSeenMs > t.resolvedAfterDays * DAY_MS && answered !== undefined && answered > lastSeenMs
  );
}
