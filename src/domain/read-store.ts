import type { DetailFetch, HostFacts, Window } from "./diagnosis.js";

export interface HourlyRow {
  /** Hours since the epoch. */
  hour: number;
  status: number;
  protocol: number;
  count: number;
}

/** The fetches of one host that keep their detail: its 421s (artifacts included) and its refusals (F). */
export interface HostDetail {
  hostId: number;
  host: string;
  misdirected: DetailFetch[];
  refused: DetailFetch[];
}

/** Client-artifact 421s of one crawler, reason (Artifact number) and host. */
export interface AlertRow {
  crawler: string;
  artifact: number;
  host: string;
  count: number;
  first_ms: number;
  last_ms: number;
}

/** What the queries need from storage. */
export interface ReadStore {
  findHost(name: string): number | undefined;
  hourlyStats(hostId: number, w: Window): HourlyRow[];
  hostFacts(hostId: number, host: string, w: Window): HostFacts;
  /** Every host with a 421 or a refusal in the window, with those fetches. */
  detailByHost(w: Window): Iterable<HostDetail>;
  hostsFetched(w: Window): number[];
  nameOf(hostId: number): string;
  facts(detail: HostDetail, w: Window): HostFacts;
  alertRows(w: Window): AlertRow[];
}
