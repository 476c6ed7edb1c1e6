import { createHash } from "node:crypto";
import { request as h1Request } from "node:http";
import { type ClientHttp2Session, constants, connect as h2Connect } from "node:http2";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate, type TLSSocket, connect as tlsConnect } from "node:tls";

/** How much of a body is read before the stream is cancelled: the probe wants statuses, not pages. */
const MAX_BODY_BYTES = 1 << 20;

export interface OpenOptions {
  id: string;
  address: string;
  port: number;
  /** The host the connection is for; SNI is derived from it (see `serverName`). */
  hostname: string;
  ca?: string | Buffer | (string | Buffer)[] | undefined;
  timeoutMs: number;
}

export interface Answer {
  status: number;
  /** The Server header, as sent ("" when absent). */
  server: string;
  requestIndex: number;
}

/** One TLS connection, with what a crawler can observe about it. HTTP/2 connections take many requests. */
export interface Connection {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** The SNI it was opened with, "" when none was sent. */
  readonly sni: string;
  readonly protocol: "h2" | "http/1.1";
  readonly certSha256: Buffer;
  /** Origins listed by ORIGIN frames (RFC 8336), undefined when none arrived. */
  readonly origins: ReadonlySet<string> | undefined;
  alive(): boolean;
  covers(hostname: string): boolean;
  request(authority: string, path: string, headers: Record<string, string>, timeoutMs: number): Promise<Answer>;
  close(): void;
}

/**
 * The SNI a browser sends for a hostname: none for an IP literal, and never a trailing dot (RFC 6066 §3). A dotted
 * name would make servers that pick their vhost by SNI fall back to the default one, and answer 421 (Apache
 * AH02032) or fail the handshake where browsers and curl, which strip the dot, get the page.
 */
export function serverName(hostname: string): string {
  return isIP(hostname) === 0 ? hostname.replace(/\.$/, "") : "";
}

/** Opens a verified TLS connection offering h2 and http/1.1 by ALPN, like a browser. */
export async function openConnection(o: OpenOptions): Promise<Connection> {
  const sni = serverName(o.hostname);
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({
      host: o.address,
      port: o.port,
      ...(sni === "" ? {} : { servername: sni }),
      // Without SNI the certificate is checked against the IP literal the URL named.
      checkServerIdentity: (_host, cert) => checkServerIdentity(o.hostname, cert),
      ALPNProtocols: ["h2", "http/1.1"],
      ...(o.ca === undefined ? {} : { ca: o.ca }),
    });
    const timer = setTimeout(
      () => s.destroy(new Error(`TLS connection to ${o.address}:${o.port} timed out`)),
      o.timeoutMs,
    );
    s.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  const cert = socket.getPeerCertificate(false);
  const base = {
    id: o.id,
    address: o.address,
    port: o.port,
    sni,
    certSha256: createHash("sha256").update(cert.raw).digest(),
    covers: (hostname: string) => covers(cert, hostname),
  };
  return socket.alpnProtocol === "h2" ? h2(socket, base) : h1(socket, base);
}

type Base = Pick<Connection, "id" | "address" | "port" | "sni" | "certSha256" | "covers">;

function covers(cert: PeerCertificate, hostname: string): boolean {
  return checkServerIdentity(hostname, cert) === undefined;
}

function h2(socket: TLSSocket, base: Base): Connection {
  let origins: Set<string> | undefined;
  let closed = false;
  let next = 0;
  const literal = base.address.includes(":") ? `[${base.address}]` : base.address;
  const session: ClientHttp2Session = h2Connect(`https://${literal}:${base.port}`, { createConnection: () => socket });
  session.on("origin", (list: string[]) => {
    origins ??= new Set();
    for (const o of list) origins.add(o.toLowerCase());
  });
  // A session error reaches the pending streams as their own errors; the session is only marked unusable here.
  session.on("error", () => {
    closed = true;
  });
  session.on("goaway", () => {
    closed = true;
  });
  session.on("close", () => {
    closed = true;
  });
  return {
    ...base,
    protocol: "h2",
    get origins() {
      return origins;
    },
    alive: () => !closed && !session.closed && !session.destroyed,
    request: (authority, path, headers, timeoutMs) => {
      const requestIndex = next++;
      const stream = session.request(
        { ...headers, ":method": "GET", ":scheme": "https", ":authority": authority, ":path": path },
        { endStream: true },
      );
      return new Promise<Answer>((resolve, reject) => {
        let answer: Answer | undefined;
        let bytes = 0;
        const timer = setTimeout(() => {
          if (answer === undefined) reject(new Error(`no answer from ${authority} within ${timeoutMs} ms`));
          stream.close(constants.NGHTTP2_CANCEL);
        }, timeoutMs);
        stream.on("response", (h) => {
          answer = { status: Number(h[":status"]), server: String(h.server ?? ""), requestIndex };
        });
        stream.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_BODY_BYTES) stream.close(constants.NGHTTP2_CANCEL);
        });
        stream.on("error", (err) => {
          if (answer === undefined) reject(err);
        });
        stream.on("close", () => {
          clearTimeout(timer);
          if (answer !== undefined) resolve(answer);
          else reject(new Error(`stream to ${authority} closed without an answer (code ${stream.rstCode})`));
        });
      });
    },
    close: () => {
      closed = true;
      session.close();
    },
  };
}

/** HTTP/1.1 serves one request per connection here: no mainstream client reuses one across hosts anyway. */
function h1(socket: TLSSocket, base: Base): Connection {
  let used = false;
  return {
    ...base,
    protocol: "http/1.1",
    origins: undefined,
    alive: () => !used && !socket.destroyed,
    request: (authority, path, headers, timeoutMs) => {
      used = true;
      return new Promise<Answer>((resolve, reject) => {
        const req = h1Request({
          createConnection: () => socket,
          method: "GET",
          path,
          headers: { ...headers, host: authority, connection: "close" },
        });
        const timer = setTimeout(
          () => req.destroy(new Error(`no answer from ${authority} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        req.on("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
        req.on("response", (res) => {
          const answer = { status: res.statusCode ?? 0, server: String(res.headers.server ?? ""), requestIndex: 0 };
          let bytes = 0;
          res.on("data", (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > MAX_BODY_BYTES) res.destroy();
          });
          res.on("close", () => {
            clearTimeout(timer);
            socket.destroy();
            resolve(answer);
          });
        });
        req.end();
      });
    },
    close: () => socket.destroy(),
  };
}
