import { type AlertsQuery, listAlerts } from "./alerts.js";
import { hostDiagnosis, type ListQuery, listDiagnoses } from "./listing.js";
import type { ReadStore } from "./read-store.js";
import { hostStats, type StatsQuery } from "./stats.js";
import type { Thresholds } from "./thresholds.js";
import type { WindowInput } from "./window.js";

/** The read operations of the service, by name, so that they can run where the store is (the read worker). */
export const QUERIES = {
  hostStats: (s: ReadStore, t: Thresholds, q: StatsQuery, nowMs: number) => hostStats(s, q, nowMs, t.defaultWindowDays),
  hostDiagnosis: (s: ReadStore, t: Thresholds, q: { host: string; window?: WindowInput | undefined }, nowMs: number) =>
    hostDiagnosis(s, q.host, q.window, nowMs, t),
  listDiagnoses: (s: ReadStore, t: Thresholds, q: ListQuery, nowMs: number) => listDiagnoses(s, q, nowMs, t),
  listAlerts: (s: ReadStore, t: Thresholds, q: AlertsQuery, nowMs: number) =>
    listAlerts(s, q, nowMs, t.defaultWindowDays),
} as const;

export type QueryName = keyof typeof QUERIES;
export type QueryInput<N extends QueryName> = Parameters<(typeof QUERIES)[N]>[2];
export type QueryOutput<N extends QueryName> = ReturnType<(typeof QUERIES)[N]>;

/** Runs a read operation; rejects with a DomainError. */
export interface QueryRunner {
  run<N extends QueryName>(name: N, input: QueryInput<N>, nowMs: number): Promise<QueryOutput<N>>;
}
