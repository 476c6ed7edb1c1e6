import { Confidence, type Diagnosis, type HostFacts, Kind } from "./diagnosis.js";
import {
  assessedAddresses,
  distinctConnections,
  distinctDays,
  isRecurring,
  missingFields,
  ownRate,
  partition,
  peers,
  protocolsOf,
  type RetryFigures,
  ratio,
  retriesRecover,
  retryFigures,
  type Sets,
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
  /** Assessed-address rates r(a). */
  rates: number[];
}

/** Classifies one host's 421s by diagnosis-rules.md: the first rule that applies decides. */
export function diagnose(facts: HostFacts, t: Thresholds = DEFAULT_THRESHOLDS): Diagnosis {
  const sets = partition(facts);
  const addresses = assessedAddresses(facts, t);
  const ownTraffic = facts.own.reduce((sum, a) => sum + a.fetches, 0);
  const figures: Figures = {
    sets,
    retry: retryFigures(sets.c),
    ownTraffic,
    ownRate: ratio(sets.o.length, ownTraffic),
    rates: addresses.map(ownRate),
  };
  const verdict = decide(figures, t);
  // For VIRTUAL_HOST no address is marked affected: the name is missing behind every address, so no address is
  // singled out; `affected` stays the edge-routing finding (EDGE_ROUTING, or MIXED reached through rule 5a).
  if (verdict.edge) for (const a of addresses) a.affected = ownRate(a) >= t.edgeAffectedMinRate;

  // A loop, not Math.max(...times): a busy host can have more 421s than a call has room for arguments.
  let firstSeenMs: number | undefined;
  let lastSeenMs: number | undefined;
  for (const { timeMs } of sets.m) {
    if (firstSeenMs === undefined || timeMs < firstSeenMs) firstSeenMs = timeMs;
    if (lastSeenMs === undefined || timeMs > lastSeenMs) lastSeenMs = timeMs;
  }
  const d: Diagnosis = {
    name: `hosts/${facts.host}`,
    host: facts.host,
    kind: verdict.kind,
    confidence: verdict.confidence,
    resolved: isResolved(verdict.kind, facts, lastSeenMs, t),
    summary: "",
    remediation: "",
    window: { ...facts.window },
    fetchCount: facts.fetchCount,
    misdirectedCount: sets.m.length,
    coalescedMisdirectedCount: sets.c.length,
    ownConnectionMisdirectedCount: sets.o.length,
    excludedClientSideCount: sets.x.length,
    retriedCount: figures.retry.retried,
    retryRecoveredCount: figures.retry.recovered,
    distinctDays: distinctDays(sets.m),
    distinctConnections: distinctConnections(sets.m),
    firstSeenMs,
    lastSeenMs,
    coalescedFrom: peers(sets.c),
    addresses,
    misdirectedProtocols: protocolsOf(sets.m),
    missingFields: verdict.kind === Kind.INSUFFICIENT_EVIDENCE ? missingFields(sets.m) : [],
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
    const edge = f.rates.some((r) => r >= t.edgeAffectedMinRate) && f.rates.some((r) => r <= t.edgeCleanMaxRate);
    // Both findings hold: report both rather than averaging coalesced and own-connection evidence into one rate.
    if (coalescedRecurs && retryTest) return { kind: Kind.MIXED, confidence: Confidence.MEDIUM, edge };
    if (edge) return { kind: Kind.EDGE_ROUTING, confidence: Confidence.MEDIUM, edge };
    // Without any assessed address "every address fails" would hold vacuously: no evidence, so no HIGH.
    const everywhere = f.rates.length > 0 && f.rates.every((r) => r >= t.edgeAffectedMinRate);
    return { kind: Kind.VIRTUAL_HOST, confidence: everywhere ? Confidence.HIGH : Confidence.MEDIUM, edge: false };
  }
  // Rule 6: known 421s recur, but neither the coalesced nor the own-connection ones make a pattern of their own.
  return insufficient();
}

function insufficient(): Verdict {
  return { kind: Kind.INSUFFICIENT_EVIDENCE, confidence: Confidence.LOW, edge: false };
}

const RESOLVABLE: ReadonlySet<Kind> = new Set<Kind>([
  Kind.CONNECTION_COALESCING,
  Kind.VIRTUAL_HOST,
  Kind.EDGE_ROUTING,
  Kind.MIXED,
]);

/**
 * Resolved: quiet for long enough, and the host answered its own connections after the last 421. The answered
 * time is only known to the hour, so it must start strictly after the last 421 (conservative).
 */
function isResolved(kind: Kind, facts: HostFacts, lastSeenMs: number | undefined, t: Thresholds): boolean {
  if (!RESOLVABLE.has(kind) || lastSeenMs === undefined) return false;
  const answered = facts.lastOwnAnsweredHourMs;
  return (
    facts.window.endMs - lastSeenMs > t.resolvedAfterDays * DAY_MS && answered !== undefined && answered > lastSeenMs
  );
}
