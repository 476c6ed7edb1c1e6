import { type FetchRecord, HttpProtocol } from "../gen/webmasterid/crawldiag/v1/fetch.js";
import type { Answer, Connection } from "./connection.js";

/** The product token of a Server header ("nginx/1.25 (Ubuntu)" -> "nginx"), fit for server_software. */
export function serverToken(header: string): string {
  const token = header.trim().split(/[\s/]/, 1)[0] ?? "";
  return token.replace(/[^\x21-\x7e]/g, "").slice(0, 64);
}

export interface FetchFacts {
  fetchId: string;
  crawler: string;
  url: string;
  hostname: string;
  /** Serialised origin ("https://a.example:8443"), as ORIGIN frames list them. */
  origin: string;
  fetchedAt: Date;
  conn: Connection;
  answer: Answer;
  retryOf: string;
}

/** The FetchRecord of one answered fetch, with every connection fact the probe observed. */
export function toRecord(f: FetchFacts): FetchRecord {
  const { conn, answer } = f;
  const origins = conn.origins;
  return {
    fetchId: f.fetchId,
    crawler: f.crawler,
    url: f.url,
    statusCode: answer.status,
    fetchedAt: f.fetchedAt,
    protocol: conn.protocol === "h2" ? HttpProtocol.HTTP_PROTOCOL_HTTP2 : HttpProtocol.HTTP_PROTOCOL_HTTP1,
    connection: {
      connectionId: conn.id,
      tlsServerName: conn.sni,
      requestIndex: answer.requestIndex,
      remoteAddress: conn.address,
      certificateCoversHost: conn.covers(f.hostname),
      certificateSha256: conn.certSha256,
      viaAltSvc: false,
      originFrameListsHost: origins === undefined ? undefined : origins.has(f.origin),
    },
    retryOf: f.retryOf,
    serverSoftware: serverToken(answer.server),
  };
}
