import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from "node:http2";
import { createServer as h1Server } from "node:https";
import type { Socket } from "node:net";
import { createSecureContext, type TLSSocket } from "node:tls";
import type { TestPki } from "./certs-e2e.js";

/**
 * Whether a server serves `hostname` (the :authority or Host, without port) on a connection opened for `sni`:
 * true answers 200, false 421, a number is the status a server answers instead.
 */
export type Serves = (hostname: string, sni: string | undefined) => boolean | number;

/** Caddy strict_sni_host, Apache AH02032: only the name the connection's SNI selected, 421 for any other. */
export const strictSni =
  (...names: string[]): Serves =>
  (hostname, sni) =>
    hostname === sni && names.includes(hostname);

/**
 * Apache httpd's name-based vhosts (the first listed is the default): SNI selects one vhost, Host another, and a
 * request where they differ gets 421 (AH02032). A name no vhost has selects the default, an SNI with a trailing dot
 * included (RFC 6066 forbids the dot); Host is matched without its trailing dot, as Apache does.
 */
export const apacheVhosts =
  (...names: string[]): Serves =>
  (hostname, sni) => {
    const vhost = (name = "") => (names.includes(name) ? name : names[0]);
    return vhost(hostname.replace(/\.$/, "")) === vhost(sni);
  };

/**
 * Apache Traffic Server's SNI/Host policy (`host_sni_policy`): a request whose Host differs from its connection's
 * SNI is refused with `status` (403 there; Jetty and Tomcat send 400), not with 421.
 */
export const refusesCrossSni =
  (status: number, ...names: string[]): Serves =>
  (hostname, sni) =>
    hostname === sni ? names.includes(hostname) : status;

/** Plain virtual hosts chosen by the Host header: a name without one gets 421 on any connection. */
export const vhosts =
  (...names: string[]): Serves =>
  (hostname) =>
    names.includes(hostname);

export interface Seen {
  sni: string | undefined;
  authority: string;
  protocol: string;
  status: number;
}

export interface TlsTestServer {
  address: string;
  port: number;
  /** Every request the server answered, in order. */
  seen: Seen[];
  close(): Promise<void>;
}

export interface TlsServerOptions {
  address: string;
  /** 0 (default) picks a free port. */
  port?: number;
  pki: TestPki;
  serves: Serves;
  /** Offers no ALPN, so clients fall back to HTTP/1.1. */
  http1Only?: boolean;
  /** Origins to list in an ORIGIN frame (RFC 8336) on every HTTP/2 connection, given the port listened on. */
  origins?: (port: number) => string[];
  /** The Server header (default "e2e-caddy/2.8 (test)"). */
  server?: string;
}

/**
 * A real TLS server on a loopback address: HTTP/2 (and HTTP/1.1 for clients without h2), the *.crawl.test
 * certificate, or *.other.test for SNI names under other.test. Answers with the status `serves` gives.
 */
export async function startTlsServer(o: TlsServerOptions): Promise<TlsTestServer> {
  const seen: Seen[] = [];
  const other = createSecureContext(o.pki.other);
  const tls = {
    ...o.pki.crawl,
    SNICallback: (name: string, cb: (err: Error | null, ctx?: ReturnType<typeof createSecureContext>) => void) =>
      cb(null, name.endsWith(".other.test") ? other : undefined),
  };
  const handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    const authority = String(req.headers[":authority"] ?? req.headers.host ?? "");
    const sni = (req.socket as TLSSocket).servername || undefined;
    const verdict = o.serves(authority.replace(/:\d+$/, ""), sni);
    const status = verdict === true ? 200 : verdict === false ? 421 : verdict;
    seen.push({ sni, authority, protocol: req.httpVersion, status });
    res.writeHead(status, { server: o.server ?? "e2e-caddy/2.8 (test)", "content-type": "text/plain" });
    res.end(status === 200 ? "ok\n" : `${status}\n`);
  };
  const server = o.http1Only ? h1Server(tls, handler) : createSecureServer({ ...tls, allowHTTP1: true }, handler);
  const sockets = new Set<Socket>();
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.address, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no TCP address");
  const origins = o.origins?.(address.port);
  if (origins !== undefined) server.on("session", (session: ServerHttp2Session) => session.origin(...origins));
  return {
    address: o.address,
    port: address.port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
