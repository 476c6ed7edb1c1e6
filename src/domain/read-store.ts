import type { HostFacts, Misdirected, Window } from "./diagnosis.js";

export interface HourlyRow {
  /** Hours since the epoch. */
  hour: number;
  status: number;
  protocol: number;
  count: number;
}

export interface HostMisdirected {
  hostId: number;
  host: string;
  misdirected: Misdirected[];
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
  misdirectedByHost(w: Window): Iterable<HostMisdirected>;
  hostsFetched(w: Window): number[];
  nameOf(hostId: number): string;
  facts(hostId: number, host: string, w: Window, misdirected: Misdirected[]): HostFacts;
  alertRows(w: Window): AlertRow[];
}
