import { Artifact, ConnKind, MISDIRECTED } from "./fetch-kind.js";

export { MISDIRECTED };

/** A validated fetch, reduced to what the diagnosis needs: the URL is gone, only its origin is left. */
export interface Fetch {
  /** Position in the request's records. */
  index: number;
  fetchId: string;
  crawler: string;
  host: string;
  hostname: string;
  status: number;
  timeMs: number;
  protocol: number;
  kind: ConnKind;
  artifact: Artifact;
  connectionId: string;
  /** undefined = not reported, "" = no SNI sent. */
  sni: string | undefined;
  requestIndex: number | undefined;
  /** Server address, "" when not reported. */
  address: string;
  certCovers: boolean | undefined;
  originFrame: boolean | undefined;
  viaAltSvc: boolean;
  retryOf: string;
}

/**
 * Statuses with which some servers refuse a request whose Host differs from its connection's SNI, instead of 421
 * (Apache Traffic Server 403, Jetty and Tomcat 400). A [J] of the rules, but fixed rather than configurable: it
 * decides at ingest which fetches keep their detail, so changing it later could not reach back to stored data.
 */
export const REFUSAL_STATUSES: ReadonlySet<number> = new Set([400, 403]);

/** A refused fetch: coalesced, answered with a refusal status, on a connection that would not make a 421 an artifact. */
export function isRefused(f: Pick<Fetch, "status" | "kind" | "artifact">): boolean {
  return REFUSAL_STATUSES.has(f.status) && f.kind === ConnKind.COALESCED && f.artifact === Artifact.NONE;
}

/** 421s, refusals and retries keep their per-fetch detail; every other fetch only counts in the hourly aggregates. */
export function keepsDetail(f: Pick<Fetch, "status" | "retryOf" | "kind" | "artifact">): boolean {
  return f.status === MISDIRECTED || f.retryOf !== "" || isRefused(f);
}

export interface Rejection {
  index: number;
  fetchId: string;
  field: string;
  reason: string;
}
