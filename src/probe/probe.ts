import { randomBytes } from "node:crypto";
import type { FetchRecord } from "../gen/webmasterid/crawldiag/v1/fetch.js";
import { type Connection, openConnection } from "./connection.js";
import { Pool } from "./pool.js";
import { toRecord } from "./record.js";
import { type LookupFunction, resolver } from "./resolve.js";
import { groupsOf, runSessions } from "./session.js";
import { type Target, target } from "./target.js";

export const DEFAULT_CRAWLER = "crawldiag-probe";
const MISDIRECTED = 421;
/** What servers that refuse a request whose Host differs from the SNI answer instead of 421 (ATS: 403; Jetty: 400). */
const REFUSALS: ReadonlySet<number> = new Set([400, 403]);

export interface ProbeOptions {
  /** Name lookup with the shape of dns.lookup; the default is the system resolver. */
  lookup?: LookupFunction | undefined;
  /** Trusted CA certificates (PEM); the default is Node's bundled list. */
  ca?: string | Buffer | (string | Buffer)[] | undefined;
  /** The time put in fetched_at: lets a test spread fetches over simulated days. */
  clock?: (() => Date) | undefined;
  /** Fetches in progress at once (default 4); a site's first URL still goes alone before the others of its group. */
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
  /** fetch_id of the 421 (or refused coalesced request) this fetch retries, "" for a first attempt. */
  retryOf: string;
  /** The record to report; absent when no answer came (see `error`). */
  record?: FetchRecord;
  error?: string;
}

interface Attempt {
  record?: FetchRecord;
  conn?: Connection;
  coalesced: boolean;
}

/**
 * Fetches each URL over HTTPS with a browser's connection pooling, and a 421 once more on a fresh connection
 * opened for the host (SNI = host, no pooling), preferably to the same address; so too a coalesced request
 * answered 400 or 403, which some servers send instead of 421. Like a browser session, the first URL of each group
 * that could share a connection goes first and the group's others once its connection is pooled (see
 * runSessions). Connections live for this run.
 */
export async function probe(urls: readonly string[], options: ProbeOptions = {}): Promise<ProbeFetch[]> {
  const run = new Run(options);
  try {
    const targets = urls.map((url) => parse(url));
    const valid = targets.map((t) => (t instanceof Error ? undefined : t));
    // A failed lookup is remembered, and reported by the fetch that needs it.
    const addresses = await Promise.all(valid.map((t) => t && run.addresses(t.dnsName).catch(() => undefined)));
    await runSessions(groupsOf(valid, addresses), Math.max(1, options.concurrency ?? 4), async (i) => {
      const t = targets[i];
      if (t !== undefined) await run.fetch(urls[i] ?? "", t);
    });
  } finally {
    run.pool.closeAll();
  }
  return run.results;
}

class Run {
  readonly pool = new Pool();
  readonly results: ProbeFetch[] = [];
  /** Every address of a name, each name looked up once per run. */
  readonly addresses;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private fetches = 0;
  private conns = 0;

  constructor(private readonly o: ProbeOptions) {
    this.addresses = resolver(o.lookup);
    this.prefix = o.idPrefix ?? randomBytes(6).toString("hex");
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.headers = { "user-agent": o.userAgent ?? "crawldiag-probe/0.1", accept: "*/*" };
  }

  async fetch(url: string, t: Target | Error): Promise<void> {
    if (t instanceof Error) {
      this.emit({ url, host: "", coalesced: false, retryOf: "", error: t.message });
      return;
    }
    const first = await this.attempt(t, "");
    const status = first.record?.statusCode ?? 0;
    // A diagnostic probe, unlike a browser, also retries a refusal: whether the host answers on a connection of
    // its own is what tells a coalescing refusal from a page that is forbidden to everyone.
    const retry = status === MISDIRECTED || (first.coalesced && REFUSALS.has(status));
    if (!retry || first.record === undefined || first.conn === undefined) return;
    await this.attempt(t, first.record.fetchId, first.conn.address);
  }

  private async attempt(t: Target, retryOf: string, sameAddress?: string): Promise<Attempt> {
    const fetchId = `${this.prefix}-f${++this.fetches}`;
    let conn: Connection | undefined;
    let coalesced = false;
    try {
      const addresses = await this.addresses(t.dnsName);
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

function parse(url: string): Target | Error {
  try {
    return target(url);
  } catch (e) {
    return new Error(message(e));
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
