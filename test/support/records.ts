import type { ConnectionInfo, FetchRecord } from "../../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { HttpProtocol } from "../../src/gen/webmasterid/crawldiag/v1/fetch.js";

let seq = 0;

/** A valid HTTP/2 fetch on the host's own connection, with any field overridden. */
export function record(
  over: Partial<Omit<FetchRecord, "connection">> & { connection?: Partial<ConnectionInfo> | null } = {},
): FetchRecord {
  seq++;
  const { connection, ...rest } = over;
  return {
    fetchId: `f-${seq}`,
    crawler: "fleet-a",
    url: "https://www.example.com/",
    statusCode: 200,
    fetchedAt: new Date(Date.now() - 60_000),
    protocol: HttpProtocol.HTTP_PROTOCOL_HTTP2,
    retryOf: "",
    serverSoftware: "",
    ...rest,
    connection:
      connection === null
        ? undefined
        : {
            connectionId: `c-${seq}`,
            tlsServerName: hostnameOf(rest.url),
            requestIndex: 0,
            remoteAddress: "192.0.2.10",
            certificateSha256: Buffer.alloc(0),
            viaAltSvc: false,
            ...connection,
          },
  };
}

let requests = 0;
export const requestId = (prefix = "req"): string => `${prefix}-${process.pid}-${++requests}`;

function hostnameOf(url = "https://www.example.com/"): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "www.example.com";
  }
}
