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

/** A value now (SQLite reads synchronously) or later (a server such as ClickHouse answers over the network). */
export type Awaitable<T> = T | Promise<T>;

/** What the queries need from storage. Host ids are the store's own, valid for as long as the store object lives. */
export interface ReadStore {
  findHost(name: string): Awaitable<number | undefined>;
  hourlyStats(hostId: number, w: Window): Awaitable<HourlyRow[]>;
  hostFacts(hostId: number, host: string, w: Window): Awaitable<HostFacts>;
  /**
   * A hint, given before findHost: hostFacts(host, w) follows unless the host is unknown. A store that answers
   * over the network may start reading them now, rather than one round trip later.
   */
  prefetchFacts?(host: string, w: Window): void;
  /**
   * A hint: hostFacts(host, w) follows for each of these hosts. A store that answers over the network may read
   * them all at once.
   */
  prefetchFactsOf?(hosts: readonly string[], w: Window): Promise<void>;
  /** A hint: facts(detail, w) follows for each of these hosts (their traffic is what it reads). */
  prefetchTrafficOf?(hosts: readonly string[], w: Window): Promise<void>;
  /** Every host with a 421 or a refusal in the window, with those fetches. */
  detailByHost(w: Window): Iterable<HostDetail> | AsyncIterable<HostDetail>;
  hostsFetched(w: Window): Awaitable<number[]>;
  nameOf(hostId: number): Awaitable<string>;
  facts(detail: HostDetail, w: Window): Awaitable<HostFacts>;
  alertRows(w: Window): Awaitable<AlertRow[]>;
}
