import type { Artifact, ConnKind } from "./fetch-kind.js";

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

export const MISDIRECTED = 421;

/** 421s and retries keep their per-fetch detail; every other fetch only counts in the hourly aggregates. */
export function keepsDetail(f: Pick<Fetch, "status" | "retryOf">): boolean {
  return f.status === MISDIRECTED || f.retryOf !== "";
}

export interface Rejection {
  index: number;
  fetchId: string;
  field: string;
  reason: string;
}
