import { createHash } from "node:crypto";
import { type BenchRecord, encodeBatch } from "./encode.js";

/**
 * A seeded crawler-fleet workload. Sites have four hosts (www, api, cdn, img) sharing addresses and a wildcard
 * certificate, so HTTP/2 connections get reused across them. Host popularity is Zipf-like. Some sites misbehave:
 * coalescing (cdn/img answer 421 on connections opened for www; crawlers retry on their own connection), a missing
 * virtual host, one bad edge address, crawlers sending no SNI; the rest have rare isolated 421s. Records come in
 * time order over `spanDays` ending now, as a fleet would report them.
 */

export const SITES = 1000;
const HOSTS_PER_SITE = ["www", "api", "cdn", "img"] as const;
const CRAWLERS = ["fleet-eu-1", "fleet-eu-2", "fleet-us-1", "fleet-us-2", "fleet-ap-1", "legacy-1"];
const DAY_MS = 86_400_000;

// Per-site behaviour, chosen by site number; 421 probabilities are per fetch of an affected host.
type Trouble = "coalescing" | "vhost" | "edge" | "no-sni" | "none";
const TROUBLE: readonly Trouble[] = ["coalescing", "coalescing", "vhost", "edge", "no-sni", "none", "none", "none"];
const P421: Record<Trouble, number> = { coalescing: 0.07, vhost: 0.03, edge: 0, "no-sni": 0.02, none: 0.0007 };
// An edge site's first address answers this share of its own-connection fetches with 421.
const EDGE_BAD = 0.12;

export interface Host {
  index: number;
  name: string;
  site: number;
  sibling: string;
  addresses: string[];
  trouble: Trouble;
}

/** mulberry32: small, fast and good enough for a workload. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeHosts(): Host[] {
  const hosts: Host[] = [];
  for (let s = 0; s < SITES; s++) {
    const site = `site${s}.example`;
    const addresses = [0, 1, 2].map((i) => `198.${18 + (s >> 8)}.${s & 255}.${10 + i}`);
    for (const h of HOSTS_PER_SITE) {
      const trouble = TROUBLE[s % TROUBLE.length] ?? "none";
      // Only the hosts that share www's connections are hit by coalescing.
      const t = trouble === "coalescing" && (h === "www" || h === "api") ? "none" : trouble;
      hosts.push({ index: hosts.length, name: `${h}.${site}`, site: s, sibling: `www.${site}`, addresses, trouble: t });
    }
  }
  return hosts;
}

export interface Batch {
  bytes: Buffer;
  records: number;
}

/** Generates the stream: `total` records in batches of `batchSize`, fetched_at evenly over the span. */
export class Workload {
  readonly hosts = makeHosts();
  private readonly random: () => number;
  private readonly cdf: Float64Array;
  private readonly certs: Buffer[];
  private seq = 0;
  private batchNo = 0;
  private readonly conns = new Map<number, { id: string; index: number }>();
  private readonly watches: { fromMs: number; toMs: number; hosts: Set<string> }[] = [];

  constructor(
    readonly total: number,
    readonly startMs: number,
    readonly spanMs: number,
    readonly batchSize: number,
    readonly runId: string,
    seed = 42,
  ) {
    this.random = rng(seed);
    const weights = this.hosts.map((_, i) => 1 / (1 + ((i * 7919) % this.hosts.length)) ** 0.9);
    this.cdf = new Float64Array(weights.length);
    let sum = 0;
    weights.forEach((w, i) => {
      sum += w;
      this.cdf[i] = sum;
    });
    for (let i = 0; i < this.cdf.length; i++) this.cdf[i] = (this.cdf[i] ?? 0) / sum;
    this.certs = Array.from({ length: SITES }, (_, s) => createHash("sha256").update(`cert ${s}`).digest());
  }

  /** The hosts that will get a 421 in [fromMs, toMs), filled as records are generated: the ones worth querying. */
  watch(fromMs: number, toMs: number): Set<string> {
    const hosts = new Set<string>();
    this.watches.push({ fromMs, toMs, hosts });
    return hosts;
  }

  /** Time of the n-th record of the stream. */
  timeAt(n: number): number {
    return this.startMs + Math.floor((n / this.total) * this.spanMs);
  }

  get produced(): number {
    return this.seq;
  }

  /** The next `count` records' batches, encoded. */
  next(count: number): Batch[] {
    const out: Batch[] = [];
    const end = Math.min(this.seq + count, this.total);
    while (this.seq < end) {
      const records: BenchRecord[] = [];
      while (records.length < this.batchSize && this.seq < end) this.fetch(records);
      out.push({ bytes: encodeBatch(`${this.runId}-${this.batchNo++}`, records), records: records.length });
    }
    return out;
  }

  private pickHost(): Host {
    const x = this.random();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cdf[mid] ?? 1) < x) lo = mid + 1;
      else hi = mid;
    }
    return this.hosts[lo] as Host;
  }

  private connection(key: number): { id: string; index: number } {
    let c = this.conns.get(key);
    // Crawlers keep a connection for a few dozen requests.
    if (c === undefined || c.index >= 40) {
      c = { id: `${this.runId}.c${this.seq.toString(36)}`, index: 0 };
      this.conns.set(key, c);
    } else {
      c.index++;
    }
    return { id: c.id, index: c.index };
  }

  private fetch(out: BenchRecord[]): void {
    const r = this.random;
    const host = this.pickHost();
    const crawlerNo = Math.floor(r() * CRAWLERS.length);
    const crawler = CRAWLERS[crawlerNo] ?? "fleet";
    const legacy = crawlerNo === CRAWLERS.length - 1;
    const timeMs = this.timeAt(this.seq);
    const protocol = legacy ? 1 : r() < 0.8 ? 2 : r() < 0.8 ? 1 : 3;
    const p = r();
    const misdirected = p < P421[host.trouble];
    let status = p < 0.85 ? 200 : p < 0.9 ? 301 : p < 0.95 ? 304 : p < 0.99 ? 404 : 503;
    let sni: string | undefined = legacy ? undefined : host.name;
    let address = host.addresses[Math.floor(r() * host.addresses.length)] ?? "";
    if (misdirected) {
      status = 421;
      if (host.trouble === "coalescing") sni = host.sibling;
      if (host.trouble === "no-sni" && !legacy) sni = "";
      if (host.trouble === "edge") address = host.addresses[0] ?? "";
    } else if (host.trouble === "edge" && address === host.addresses[0] && r() < EDGE_BAD) {
      status = 421;
    } else if (protocol === 2 && host.name !== host.sibling && r() < 0.1 && !legacy) {
      sni = host.sibling;
    }
    const first = this.add(out, host, crawler, timeMs, protocol, status, sni, address, "");
    // A crawler that got a 421 (or a 503) retries on a fresh connection opened for the host itself.
    const retry = status === 421 ? 0.8 : status === 503 ? 0.3 : 0;
    if (r() < retry && this.seq < this.total && out.length < this.batchSize) {
      const again = host.trouble === "vhost" || host.trouble === "edge" ? (r() < 0.5 ? 421 : 200) : 200;
      this.add(out, host, crawler, timeMs + 1500, protocol, again, legacy ? undefined : host.name, address, first);
    }
  }

  private add(
    out: BenchRecord[],
    host: Host,
    crawler: string,
    timeMs: number,
    protocol: number,
    status: number,
    sni: string | undefined,
    address: string,
    retryOf: string,
  ): string {
    const fetchId = `${this.runId}.${(this.seq++).toString(36)}`;
    const sniKind = sni === undefined ? 0 : sni === host.name ? 1 : sni === "" ? 2 : 3;
    const crawlerNo = CRAWLERS.indexOf(crawler);
    const conn = this.connection(((host.index * 8 + crawlerNo) * 4 + host.addresses.indexOf(address)) * 4 + sniKind);
    if (status === 421) {
      for (const w of this.watches) if (timeMs >= w.fromMs && timeMs < w.toMs) w.hosts.add(host.name);
    }
    out.push({
      fetchId,
      crawler,
      url: `https://${host.name}/catalogue/item-${this.seq % 100_000}?ref=feed&page=${this.seq % 7}`,
      statusCode: status,
      timeMs,
      protocol,
      connectionId: conn.id,
      sni,
      requestIndex: conn.index,
      remoteAddress: address,
      certCovers: sni === undefined ? undefined : true,
      certSha256: crawler.startsWith("fleet-eu") ? this.certs[host.site] : undefined,
      retryOf,
      serverSoftware: status === 421 ? "nginx" : "",
    });
    return fetchId;
  }
}

/**
 * `count` fetches of `count` distinct hosts that answer 200 on their own connections, in the hour before `endMs`:
 * a store with a million hosts fetched, almost none with a 421.
 */
export function manyHosts(count: number, endMs: number, runId: string, batchSize: number): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < count; i += batchSize) {
    const records: BenchRecord[] = [];
    for (let j = i; j < Math.min(i + batchSize, count); j++) {
      const name = `h${j.toString(36)}.many.example`;
      records.push({
        fetchId: `${runId}.${j.toString(36)}`,
        crawler: "fleet-eu-1",
        url: `https://${name}/`,
        statusCode: 200,
        timeMs: endMs - 3_600_000 + Math.floor((j / count) * 3_600_000),
        protocol: 2,
        connectionId: `${runId}.c${j.toString(36)}`,
        sni: name,
        requestIndex: 0,
        // Shared hosting: many names behind a few hundred addresses.
        remoteAddress: `198.51.${(j >> 8) & 1}.${j & 255}`,
        certCovers: true,
        certSha256: undefined,
        retryOf: "",
        serverSoftware: "",
      });
    }
    out.push({ bytes: encodeBatch(`${runId}-${i}`, records), records: records.length });
  }
  return out;
}

export { DAY_MS };
