import { MISDIRECTED, REFUSAL_STATUSES } from "./fetch.js";

/**
 * A host's traffic at one server address over one UTC day, with its own connections' figures beside the total:
 * what both stores keep per day so that a long window reads days, not hours. One rule for both, so that they
 * give the same facts: ClickHouse applies addFetches as SQL (store/clickhouse/rollup.ts), and the tests that
 * compare the two stores' figures hold them to it.
 */
export interface DailyFigures {
  fetches: number;
  /** Status other than 421, any connection. */
  answered: number;
  /** On connections opened for the host itself (ConnKind OWN). */
  ownFetches: number;
  ownMisdirected: number;
  /** Own-connection answers with a refusal status (400, 403). */
  ownRefused: number;
  /** Latest hour of an own-connection answer other than 421, null for none. */
  ownLastAnswered: number | null;
}

export const noFigures = (): DailyFigures => ({
  fetches: 0,
  answered: 0,
  ownFetches: 0,
  ownMisdirected: 0,
  ownRefused: 0,
  ownLastAnswered: null,
});

/** Counts `count` fetches of one hour and status, on the host's own connection or not. */
export function addFetches(d: DailyFigures, hour: number, own: boolean, status: number, count: number): void {
  d.fetches += count;
  if (status !== MISDIRECTED) d.answered += count;
  if (!own) return;
  d.ownFetches += count;
  if (status === MISDIRECTED) d.ownMisdirected += count;
  else d.ownLastAnswered = Math.max(d.ownLastAnswered ?? hour, hour);
  if (REFUSAL_STATUSES.has(status)) d.ownRefused += count;
}
