import { randomBytes } from "node:crypto";
import type { FetchRecord } from "../gen/webmasterid/crawldiag/v1/fetch.js";
import { type Connection, openConnection } from "./connection.js";
import { Pool } from "./pool.js";
import { toRecord } from "./record.js";
import { type LookupFunction, resolver } from "./resolve.js";

export const DEFAULT_CRAWLER = "crawldiag-probe";
const MISDIRECTED = 421;

export interface ProbeOptions {
  /** Name lookup with the shape of dns.lookup; the default is the system resolver. */
  lookup?: LookupFunction | undefined;
  /** Trusted CA certificates (PEM); the default is Node's bundled list. */
  ca?: string | Buffer | (string | Buffer)[] | undefined;
  /** The time put in fetched_at: lets a test spread fetches over simulated days. */
  clock?: (() => Date) | undefined;
  /** Fetches in progress at once (default 4). */
  concurrency?: number | undefined;
  /** Longest wait for a connection, and for an answer (default 10 s each). */
  timeoutMs?: number | undefined;
  /** Crawler id put on the records (default "crawldiag-probe"). */
  crawler?: string | undefined;
  /** Prefix of fetch and connection ids; random by default, so ids stay unique across runs. */
  idPrefix?: string | undefined;
  userAgent?: string | undefined;
  /** Told of each fetch as it completes. */
  onFetch?: ((fetch: ProbeFetch) => void) | undefined;
}

export interface ProbeFetch {
  url: string;
  /** host[:port] the request was for. */
  host: string;
  /** Made on a connection opened for another host. */
  coalesced: boolean;
  /** fetch_id of the 421 this fetch retries, "" for a first attempt. */
  retryOf: string;
  /** The record to report; absent when no answer came (see `error`). */
  record?: FetchRecord;
  error?: string;
}

interface Target {
  url: string;
  hostname: string;
  port: number;
  authority: string;
  path: string;
  origin: string;
}

interface Attempt {
  record?: FetchRecord;
  conn?: Connection;
  coalesced: boolean;
}

/**
 * Fetches each URL over HTTPS with a browser's connection pooling, and a 421 once more on a fresh connection
 * opened for the host (SNI = host, no pooling), preferably to the same address. Connections live for this run.
 */
export async function probe(urls: readonly string[], options: ProbeOptions = {}): Promise<ProbeFetch[]> {
  const run = new Run(options);
  try {
    let next = 0;
    const worker = async () => {
      for (let url = urls[next++]; url !== undefined; url = urls[next++]) await run.fetch(url);
    };
    const workers = Math.max(1, Math.min(options.concurrency ?? 4, urls.length));
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    run.pool.closeAll();
  }
  return run.results;
}

class Run {
  readonly pool = new Pool();
  readonly results: ProbeFetch[] = [];
  private readonly resolve;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private fetches = 0;
  private conns = 0;

  constructor(private readonly o: ProbeOptions) {
    this.resolve = resolver(o.lookup);
    this.prefix = o.idPrefix ?? randomBytes(6).toString("hex");
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.headers = { "user-agent": o.userAgent ?? "crawldiag-probe/0.1", accept: "*/*" };
  }

  async fetch(url: string): Promise<void> {
    let t: Target;
    try {
      t = target(url);
    } catch (e) {
      this.emit({ url, host: "", coalesced: false, retryOf: "", error: message(e) });
      return;
    }
    const first = await this.attempt(t, "");
    if (first.record?.statusCode !== MISDIRECTED || first.conn === undefined) return;
    await this.attempt(t, first.record.fetchId, first.conn.address);
  }

  private async attempt(t: Target, retryOf: string, sameAddress?: string): Promise<Attempt> {
    const fetchId = `${this.prefix}-f${++this.fetches}`;
    let conn: Connection | undefined;
    let coalesced = false;
    try {
      const addresses = await this.resolve(t.hostname);
      if (retryOf === "") {
        const picked = this.pool.find(t.hostname, t.port, addresses);
        coalesced = picked?.coalesced ?? false;
        conn = picked?.conn ?? (await this.pool.own(t.hostname, t.port, () => this.open(t, addresses)));
      } else {
        const first = sameAddress !== undefined && addresses.includes(sameAddress) ? [sameAddress] : [];
        conn = await this.open(t, [...first, ...addresses.filter((a) => a !== sameAddress)]);
        this.pool.add(conn, t.hostname, false);
      }
      const answer = await conn.request(t.authority, t.path, this.headers, this.timeoutMs);
      const record = toRecord({
        fetchId,
        crawler: this.o.crawler ?? DEFAULT_CRAWLER,
        url: t.url,
        hostname: t.hostname,
        origin: t.origin,
        fetchedAt: this.o.clock?.() ?? new Date(),
        conn,
        answer,
        retryOf,
      });
      this.emit({ url: t.url, host: t.authority, coalesced, retryOf, record });
      return { record, conn, coalesced };
    } catch (e) {
      this.emit({ url: t.url, host: t.authority, coalesced, retryOf, error: message(e) });
      return { coalesced };
    } finally {
      if (conn?.protocol === "http/1.1") conn.close();
    }
  }

  /** A new connection for the host, to the first address that accepts it. */
  private async open(t: Target, addresses: readonly string[]): Promise<Connection> {
    let failure: unknown = new Error(`${t.hostname} has no address`);
    for (const address of addresses) {
      const id = `${this.prefix}-c${++this.conns}`;
      try {
        return await openConnection({
          id,
          address,
          port: t.port,
          hostname: t.hostname,
          ca: this.o.ca,
          timeoutMs: this.timeoutMs,
        });
      } catch (e) {
        failure = e;
      }
    }
    throw failure;
  }

  private emit(f: ProbeFetch): void {
    this.results.push(f);
    this.o.onFetch?.(f);
  }
}

function target(url: string): Target {
  const u = new URL(url);
  if (u.protocol !== "https:") throw new Error(`only https URLs can be probed: ${u.protocol}`);
  return {
    url,
    hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port === "" ? 443 : Number(u.port),
    authority: u.host,
    path: `${u.pathname}${u.search}`,
    origin: u.origin,
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
