import type { Fetch, Rejection } from "./fetch.js";
import { classifyConnection } from "./fetch-kind.js";
import { canonicalIp, normaliseHostname, parseOrigin } from "./host.js";

// Structural mirrors of the generated FetchRecord/ConnectionInfo, so the transport hands them over without copying.
export interface ConnectionInput {
  connectionId: string;
  tlsServerName?: string | undefined;
  requestIndex?: number | undefined;
  remoteAddress: string;
  certificateCoversHost?: boolean | undefined;
  certificateSha256: Uint8Array;
  viaAltSvc: boolean;
  originFrameListsHost?: boolean | undefined;
}

export interface FetchRecordInput {
  fetchId: string;
  crawler: string;
  url: string;
  statusCode: number;
  fetchedAt: Date | undefined;
  protocol: number;
  connection?: ConnectionInput | undefined;
  retryOf: string;
  serverSoftware: string;
}

export interface TimeBounds {
  nowMs: number;
  /** Oldest acceptable fetched_at (retention), or 0 for none. */
  oldestMs: number;
  /** Which crawler ids the caller may write (auth file `crawlers`); absent = any. */
  crawlerAllowed?: ((crawler: string) => boolean) | undefined;
}

export const MAX_FUTURE_MS = 5 * 60_000;
export const MAX_URL_LENGTH = 2048;
const FETCH_ID = /^[\x21-\x7e]{1,128}$/;
const CRAWLER = /^[A-Za-z0-9._:/-]{1,64}$/;
const SERVER_SOFTWARE = /^[\x20-\x7e]{0,64}$/;

class Invalid {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {}
}

/** Validates one record; returns the normalised fetch or the first problem found (field + reason). */
export function validateRecord(r: FetchRecordInput, index: number, t: TimeBounds): Fetch | Rejection {
  const v = check(r, index, t);
  if (v instanceof Invalid) return { index, fetchId: r.fetchId.slice(0, 128), field: v.field, reason: v.reason };
  return v;
}

function check(r: FetchRecordInput, index: number, t: TimeBounds): Fetch | Invalid {
  if (!FETCH_ID.test(r.fetchId))
    return new Invalid("fetch_id", "required: 1-128 printable ASCII characters, no spaces");
  if (!CRAWLER.test(r.crawler)) return new Invalid("crawler", "required: 1-64 characters of A-Z a-z 0-9 . _ : / -");
  if (t.crawlerAllowed?.(r.crawler) === false) return new Invalid("crawler", "this client may not write this crawler");
  if (r.url.length === 0) return new Invalid("url", "required: an absolute http or https URL");
  if (r.url.length > MAX_URL_LENGTH) return new Invalid("url", `longer than ${MAX_URL_LENGTH} characters`);
  const origin = parseOrigin(r.url);
  if (typeof origin === "string") return new Invalid("url", origin);
  if (!Number.isInteger(r.statusCode) || r.statusCode < 100 || r.statusCode > 599) {
    return new Invalid("status_code", "required: an HTTP status code from 100 to 599");
  }
  const time = r.fetchedAt?.getTime();
  if (time === undefined || Number.isNaN(time)) return new Invalid("fetched_at", "required: when the response arrived");
  if (time > t.nowMs + MAX_FUTURE_MS) return new Invalid("fetched_at", "more than 5 minutes ahead of the server clock");
  if (t.oldestMs > 0 && time < t.oldestMs) return new Invalid("fetched_at", "older than the retention period");
  if (!Number.isInteger(r.protocol) || r.protocol < 0 || r.protocol > 3) {
    return new Invalid("protocol", "unknown HttpProtocol value");
  }
  if (r.retryOf !== "") {
    if (!FETCH_ID.test(r.retryOf))
      return new Invalid("retry_of", "must be a fetch_id: 1-128 printable ASCII, no spaces");
    if (r.retryOf === r.fetchId) return new Invalid("retry_of", "a fetch cannot retry itself");
  }
  if (!SERVER_SOFTWARE.test(r.serverSoftware)) {
    return new Invalid("server_software", "at most 64 printable ASCII characters");
  }
  const c = r.connection;
  let sni: string | undefined;
  let address = "";
  if (c !== undefined) {
    if (c.connectionId.length > 128 || !/^[\x21-\x7e]*$/.test(c.connectionId)) {
      return new Invalid("connection.connection_id", "at most 128 printable ASCII characters, no spaces");
    }
    if (c.tlsServerName !== undefined && c.tlsServerName !== "") {
      sni = normaliseHostname(c.tlsServerName);
      if (sni === undefined)
        return new Invalid("connection.tls_server_name", "must be empty, a DNS name or an IP address");
    } else {
      sni = c.tlsServerName;
    }
    if (c.remoteAddress !== "") {
      const ip = canonicalIp(c.remoteAddress);
      if (ip === undefined) return new Invalid("connection.remote_address", "must be empty or an IPv4/IPv6 address");
      address = ip;
    }
    if (c.certificateSha256.length !== 0 && c.certificateSha256.length !== 32) {
      return new Invalid("connection.certificate_sha256", "must be empty or exactly 32 bytes");
    }
  }
  const { kind, artifact } = classifyConnection(
    {
      protocol: r.protocol,
      sni,
      sniTrailingDot: c?.tlsServerName?.endsWith(".") === true,
      hostname: origin.hostname,
      certCovers: c?.certificateCoversHost,
    },
    r.statusCode,
  );
  return {
    index,
    fetchId: r.fetchId,
    crawler: r.crawler,
    host: origin.host,
    hostname: origin.hostname,
    status: r.statusCode,
    timeMs: time,
    protocol: r.protocol,
    kind,
    artifact,
    connectionId: c?.connectionId ?? "",
    sni,
    requestIndex: c?.requestIndex,
    address,
    certCovers: c?.certificateCoversHost,
    originFrame: c?.originFrameListsHost,
    viaAltSvc: c?.viaAltSvc ?? false,
    retryOf: r.retryOf,
  };
}

/** Validates a batch: each record on its own, and a fetch_id repeated within its crawler is refused the second time. */
export function validateBatch(records: readonly FetchRecordInput[], t: TimeBounds) {
  const fetches: Fetch[] = [];
  const rejections: Rejection[] = [];
  const seen = new Set<string>();
  records.forEach((record, index) => {
    const v = validateRecord(record, index, t);
    if (!("hostname" in v)) {
      rejections.push(v);
      return;
    }
    const key = `${v.crawler}\n${v.fetchId}`;
    if (seen.has(key)) {
      rejections.push({ index, fetchId: v.fetchId, field: "fetch_id", reason: "repeated within this batch" });
      return;
    }
    seen.add(key);
    fetches.push(v);
  });
  return { fetches, rejections };
}
