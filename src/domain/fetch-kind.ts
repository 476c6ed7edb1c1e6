import { ipFamily } from "./host.js";

/** HTTP 421 Misdirected Request. */
export const MISDIRECTED = 421;

/** Protocol numbers, as in the proto enum HttpProtocol. */
export const Protocol = { UNSPECIFIED: 0, HTTP1: 1, HTTP2: 2, HTTP3: 3 } as const;

/**
 * How a fetch's connection relates to its host (diagnosis-rules.md, "Terms"). Stored as numbers: never renumber.
 * OTHER is a connection opened for another name whose protocol was not reported: neither coalesced nor own.
 */
export const ConnKind = { OWN: 1, COALESCED: 2, SNI_NOT_REPORTED: 3, CLIENT_ARTIFACT: 4, OTHER: 5 } as const;
export type ConnKind = (typeof ConnKind)[keyof typeof ConnKind];

/** Why a 421 is a client artifact; the numbers are the proto enum CrawlerAlertReason's. */
export const Artifact = {
  NONE: 0,
  NO_SNI: 1,
  IP_LITERAL_SNI: 2,
  HTTP1_CROSS_HOST: 3,
  CERTIFICATE_MISMATCH: 4,
  TRAILING_DOT_SNI: 5,
} as const;
export type Artifact = (typeof Artifact)[keyof typeof Artifact];

export interface ConnectionFacts {
  protocol: number;
  /** undefined = not reported, "" = no SNI was sent, otherwise the normalised SNI. */
  sni: string | undefined;
  /** The SNI as reported ended with a dot (before normalisation removed it). */
  sniTrailingDot: boolean;
  hostname: string;
  certCovers: boolean | undefined;
}

/**
 * Classifies a fetch's connection. `artifact` is the reason a 421 on it would be a client artifact (NONE when it
 * would count), checked in the order the rules list them. A trailing dot in SNI is a fault only of a 421 (the
 * server picked another vhost by SNI than by Host): any other answer is the host's own or coalesced traffic, as
 * the normalised SNI says, so the dot moves the kind to CLIENT_ARTIFACT for 421s alone.
 */
export function classifyConnection(f: ConnectionFacts, status: number): { kind: ConnKind; artifact: Artifact } {
  if (f.sni === undefined) return { kind: ConnKind.SNI_NOT_REPORTED, artifact: Artifact.NONE };
  if (f.sni === "") return { kind: ConnKind.CLIENT_ARTIFACT, artifact: Artifact.NO_SNI };
  if (ipFamily(f.sni) !== 0) return { kind: ConnKind.CLIENT_ARTIFACT, artifact: Artifact.IP_LITERAL_SNI };
  const kind = kindOf(f);
  if (f.sniTrailingDot) {
    return { kind: status === MISDIRECTED ? ConnKind.CLIENT_ARTIFACT : kind.kind, artifact: Artifact.TRAILING_DOT_SNI };
  }
  return kind;
}

function kindOf(f: ConnectionFacts): { kind: ConnKind; artifact: Artifact } {
  if (f.sni === f.hostname) return { kind: ConnKind.OWN, artifact: Artifact.NONE };
  if (f.protocol === Protocol.HTTP1) return { kind: ConnKind.CLIENT_ARTIFACT, artifact: Artifact.HTTP1_CROSS_HOST };
  if (f.protocol === Protocol.HTTP2 || f.protocol === Protocol.HTTP3) {
    return f.certCovers === false
      ? { kind: ConnKind.CLIENT_ARTIFACT, artifact: Artifact.CERTIFICATE_MISMATCH }
      : { kind: ConnKind.COALESCED, artifact: Artifact.NONE };
  }
  return { kind: ConnKind.OTHER, artifact: Artifact.NONE };
}
