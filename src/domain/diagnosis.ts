import type { Artifact, ConnKind } from "./fetch-kind.js";

/** Diagnosis kinds; the numbers are the proto enum DiagnosisKind's. */
export const Kind = {
  NO_MISDIRECTED_REQUESTS: 1,
  NOT_RECURRING: 2,
  CONNECTION_COALESCING: 3,
  VIRTUAL_HOST: 4,
  EDGE_ROUTING: 5,
  MIXED: 6,
  INSUFFICIENT_EVIDENCE: 7,
  COALESCING_REFUSED: 8,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Confidence levels; the numbers are the proto enum Confidence's. */
export const Confidence = { LOW: 1, MEDIUM: 2, HIGH: 3 } as const;
export type Confidence = (typeof Confidence)[keyof typeof Confidence];

/** A window of whole UTC hours, [startMs, endMs). */
export interface Window {
  startMs: number;
  endMs: number;
}

/** One fetch of the host in the window that keeps its detail (a 421 or a refusal), with its retries' statuses. */
export interface DetailFetch {
  timeMs: number;
  status: number;
  crawler: string;
  connectionId: string;
  /** undefined = not reported, "" = no SNI sent, otherwise the (normalised) SNI: the peer host when coalesced. */
  sni: string | undefined;
  protocol: number;
  kind: ConnKind;
  artifact: Artifact;
  /** Server address, "" when not reported. */
  address: string;
  originFrame: boolean | undefined;
  /** Status codes of the fetches (same crawler) whose retry_of is this fetch's fetch_id. */
  retryStatuses: readonly number[];
}

/** The host's traffic at one server address ("" = address not reported). */
export interface AddressTraffic {
  address: string;
  /** Own-connection fetches, any status. */
  ownFetches: number;
  /** Own-connection 421s. */
  ownMisdirected: number;
  /** Own-connection answers with a refusal status (400, 403). */
  ownRefused: number;
  /** Answers other than 421 on any connection: own, coalesced, or of any SNI state. */
  answered: number;
}

/** Everything the classifier needs about one host over one window. */
export interface HostFacts {
  host: string;
  window: Window;
  /** All fetches of the host in the window. */
  fetchCount: number;
  /** Every 421 of the host, client artifacts included. */
  misdirected: DetailFetch[];
  /** The refused fetches (F): coalesced, answered 400 or 403, not what would make a 421 a client artifact. */
  refused: DetailFetch[];
  traffic: AddressTraffic[];
  /** Start of the latest hour with an own-connection fetch whose status was not 421, if any. */
  lastOwnAnsweredHourMs: number | undefined;
}

export interface PeerHost {
  host: string;
  misdirectedCount: number;
}

export interface AddressStat {
  address: string;
  ownFetchCount: number;
  ownMisdirectedCount: number;
  affected: boolean;
  answeredCount: number;
}

/** The verdict and its evidence; field names follow the proto HostDiagnosis so the transport can pass it on. */
export interface Diagnosis {
  name: string;
  host: string;
  kind: Kind;
  confidence: Confidence;
  resolved: boolean;
  summary: string;
  remediation: string;
  window: Window;
  fetchCount: number;
  misdirectedCount: number;
  coalescedMisdirectedCount: number;
  ownConnectionMisdirectedCount: number;
  excludedClientSideCount: number;
  retriedCount: number;
  retryRecoveredCount: number;
  distinctDays: number;
  distinctConnections: number;
  firstSeenMs: number | undefined;
  lastSeenMs: number | undefined;
  coalescedFrom: PeerHost[];
  addresses: AddressStat[];
  misdirectedProtocols: number[];
  missingFields: string[];
  ownRetriedCount: number;
  ownRetryRecoveredCount: number;
  refusedCount: number;
  refusedStatuses: number[];
}
