/**
 * The judgement calls ([J]) of diagnosis-rules.md, in one place so configuration can override them. Shares and
 * rates are fractions in [0, 1]; a "Min" bound is inclusive (>=), a "Max" bound is inclusive (<=).
 */
export interface Thresholds {
  /** recurring(S): fewer 421s than this are an accident, not a pattern. */
  recurringMinCount: number;
  /** recurring(S): 421s confined to fewer UTC days than this may be one bad deployment hour. */
  recurringMinDays: number;
  /** recurring(S): 421s on fewer connections than this may be one broken connection. */
  recurringMinConnections: number;
  /** Rule 3: with fewer known 421s than this, coalescing and virtual host cannot be told apart. */
  minKnown: number;
  /** Rule 3: known 421s must be at least this share of the counted 421s, or the unknown ones could decide. */
  minKnownShare: number;
  /** Rule 4: coalesced 421s must be at least this share of the known ones to blame coalescing alone. */
  minCoalescedShare: number;
  /** Rule 4: own-connection 421 rate up to which the host's own connections count as clean. */
  ownCleanMaxRate: number;
  /** Rule 4: own-connection 421 rate up to which own traffic shows the host answers (when retries are too few). */
  ownAnswersMaxRate: number;
  /** Rules 4, 5 and 7: fewer retried coalesced 421s (or refusals) than this do not make a retry test. */
  minRetried: number;
  /** Rules 4, 5 and 7: share of the retried ones that must recover for the retry test to pass. */
  minRetryRecoveredShare: number;
  /** Rule 5: an address with fewer own-connection fetches than this has no meaningful 421 rate. */
  assessedMinOwnFetches: number;
  /** Rule 5a: own-connection 421 rate from which an address counts as an affected edge node. */
  edgeAffectedMinRate: number;
  /** Rule 5a: own-connection 421 rate up to which an assessed address can count as serving the host. */
  edgeCleanMaxRate: number;
  /** Rule 5a: non-421 answers (any connection) an address must give before it counts as serving the host. */
  servesMinAnswers: number;
  /** Rule 7: share of the host's own traffic answered 400/403 up to which a coalesced 403 counts as a refusal. */
  ownRefusalMaxRate: number;
  /** resolved: the last 421 must be more than this many days before the window's end. */
  resolvedAfterDays: number;
  /** Window used when a request gives no bounds; long enough to see a weekly pattern twice and more. */
  defaultWindowDays: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  recurringMinCount: 3,
  recurringMinDays: 2,
  recurringMinConnections: 2,
  minKnown: 3,
  minKnownShare: 0.5,
  minCoalescedShare: 0.8,
  ownCleanMaxRate: 0.02,
  ownAnswersMaxRate: 0.05,
  minRetried: 2,
  minRetryRecoveredShare: 0.9,
  assessedMinOwnFetches: 2,
  edgeAffectedMinRate: 0.5,
  edgeCleanMaxRate: 0.05,
  servesMinAnswers: 2,
  ownRefusalMaxRate: 0.05,
  resolvedAfterDays: 7,
  defaultWindowDays: 30,
});

// Fractions above 1 can never be met (or always are), which would silently switch a rule off.
const FRACTIONS: ReadonlySet<keyof Thresholds> = new Set([
  "minKnownShare",
  "minCoalescedShare",
  "ownCleanMaxRate",
  "ownAnswersMaxRate",
  "minRetryRecoveredShare",
  "edgeAffectedMinRate",
  "edgeCleanMaxRate",
  "ownRefusalMaxRate",
]);

function isKey(key: string): key is keyof Thresholds {
  return Object.hasOwn(DEFAULT_THRESHOLDS, key);
}

/**
 * Reads overrides (a JSON object with some of the keys of Thresholds) over the defaults. Throws an Error naming
 * the offending key, so a typo in configuration stops start-up instead of being ignored.
 */
export function parseThresholds(json: string): Thresholds {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new Error(`thresholds: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error("thresholds: must be a JSON object of threshold names to numbers");
  }
  const out: Thresholds = { ...DEFAULT_THRESHOLDS };
  for (const [key, value] of Object.entries(raw)) {
    if (!isKey(key))
      throw new Error(`${key}: unknown threshold (known: ${Object.keys(DEFAULT_THRESHOLDS).join(", ")})`);
    if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`${key}: must be a finite number`);
    if (value < 0) throw new Error(`${key}: must not be negative`);
    if (FRACTIONS.has(key) && value > 1) throw new Error(`${key}: is a share or rate, at most 1`);
    out[key] = value;
  }
  return out;
}
