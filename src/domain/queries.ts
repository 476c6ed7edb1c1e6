import { type AlertsQuery, listAlerts } from "./alerts.js";
import { hostDiagnosis, type ListQuery, listDiagnoses, type ReadContext } from "./listing.js";
import { hostStats, type StatsQuery } from "./stats.js";
import type { WindowInput } from "./window.js";

export type { ReadContext };

/** The read operations of the service, by name, so that they can run where the store is (the read worker). */
export const QUERIES = {
  hostStats: (c: ReadContext, q: StatsQuery, nowMs: number) => hostStats(c.store, q, nowMs, c.rules.defaultWindowDays),
  hostDiagnosis: (c: ReadContext, q: { host: string; window?: WindowInput | undefined }, nowMs: number) =>
    hostDiagnosis(c, q.host, q.window, nowMs),
  listDiagnoses: (c: ReadContext, q: ListQuery, nowMs: number) => listDiagnoses(c, q, nowMs),
  listAlerts: (c: ReadContext, q: AlertsQuery, nowMs: number) =>
    listAlerts(c.store, q, nowMs, c.rules.defaultWindowDays),
} as const;

export type QueryName = keyof typeof QUERIES;
export type QueryInput<N extends QueryName> = Parameters<(typeof QUERIES)[N]>[1];
export type QueryOutput<N extends QueryName> = Awaited<ReturnType<(typeof QUERIES)[N]>>;

/** Runs a read operation; rejects with a DomainError. */
export interface QueryRunner {
  run<N extends QueryName>(name: N, input: QueryInput<N>, nowMs: number): Promise<QueryOutput<N>>;
}
