import type { ClickHouseClient } from "@clickhouse/client";
import type { HostFacts, Window } from "../../domain/diagnosis.js";
import type { AlertRow, HostDetail, HourlyRow, ReadStore } from "../../domain/read-store.js";
import { detailsOf } from "./detail.js";
import { chunksOf, factsOf, factsOfHosts, noTraffic } from "./facts.js";
import type { HostIds } from "./host-ids.js";
import * as q from "./queries.js";
import { type HostTraffic, trafficOf } from "./traffic.js";

/** What one bulk read of a window found: every candidate host's detail and the traffic of the hosts it read. */
interface Memo {
  w: Window;
  detail?: Promise<Map<string, HostDetail>>;
  traffic: Map<string, HostTraffic>;
}

const sameWindow = (a: Window, b: Window) => a.startMs === b.startMs && a.endMs === b.endMs;
const sameSeqs = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((s, i) => s === b[i]);

/** The seqs written more than once as a call on this node last read them (sorted), for the next call to start with. */
export class Rewrites {
  seqs: readonly number[] = [];
}

export interface ReaderOptions {
  rewrites: Rewrites;
  /**
   * The call reads one host: each query on one thread. Its few granules gain nothing from more, and on a busy
   * server a second thread only waits for a core (get p50 17.2 -> 14.5 ms on a 10M store, 18.16).
   */
  oneHost?: boolean;
}

/**
 * The ReadStore of one query call. Host ids come from `hosts` (the domain keys maps by them); a list page reads
 * every candidate host's detail, retries and traffic in a few bulk queries on the first detailByHost call and
 * answers facts() from that, instead of a round trip per host.
 */
export class ClickHouseReader implements ReadStore {
  private memo: Memo | undefined;
  private ctx: Promise<q.Ctx> | undefined;
  private early: { host: string; w: Window; facts: Promise<HostFacts> } | undefined;
  private bulk: { w: Window; facts: Promise<Map<string, HostFacts>> } | undefined;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly t: q.Tables,
    private readonly hosts: HostIds,
    private readonly opts: ReaderOptions,
  ) {}

  /** The tables and the seqs written more than once, read once for the call (a handful, or none). */
  private context(): Promise<q.Ctx> {
    this.ctx ??= this.select<{ seq: string | number }>(q.rewrittenSeqs(this.t)).then((rows) => {
      const rewritten = rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
      this.opts.rewrites.seqs = rewritten;
      return { t: this.t, rewritten };
    });
    return this.ctx;
  }

  private async select<T>(query: string): Promise<T[]> {
    const rs = await this.client.query({
      query,
      format: "JSONEachRow",
      clickhouse_settings: this.opts.oneHost ? { max_threads: 1 } : {},
    });
    return rs.json<T>();
  }

  private idOf(host: string): number {
    return this.hosts.idOf(host);
  }

  /** One figure from a query built on this call's context (counts()). */
  async count(query: (c: q.Ctx) => string): Promise<number> {
    const [row] = await this.select<{ n: string | number }>(query(await this.context()));
    return Number(row?.n ?? 0);
  }

  async findHost(name: string): Promise<number | undefined> {
    // The call's next reads need the context: asked for now, it arrives with this answer, not one round trip later.
    this.context().catch(() => undefined);
    const rows = await this.select<{ found: number }>(q.hostExists(this.t, name));
    return rows.length === 0 ? undefined : this.idOf(name);
  }

  nameOf(hostId: number): string {
    return this.hosts.nameOf(hostId);
  }

  async hourlyStats(hostId: number, w: Window): Promise<HourlyRow[]> {
    const rows = await this.select<Record<keyof HourlyRow, string | number>>(
      q.hourlyStats(await this.context(), this.nameOf(hostId), w),
    );
    return rows.map((r) => ({
      hour: Number(r.hour),
      status: Number(r.status),
      protocol: Number(r.protocol),
      count: Number(r.count),
    }));
  }

  async alertRows(w: Window): Promise<AlertRow[]> {
    const rows = await this.select<Record<keyof AlertRow, string | number>>(q.alertRows(await this.context(), w));
    return rows.map((r) => ({
      crawler: String(r.crawler),
      artifact: Number(r.artifact),
      host: String(r.host),
      count: Number(r.count),
      first_ms: Number(r.first_ms),
      last_ms: Number(r.last_ms),
    }));
  }

  /**
   * Reads the host's facts while findHost runs, with the rewritten seqs the node's last call found: one round
   * trip instead of two (get p50 -3 ms). Should this call's own read of them differ, the facts are read again.
   * Its read runs beside the facts' rather than before them: a seq flagged between the two is then either seen
   * (read again) or flagged after this call's own read, as when that read came first.
   */
  prefetchFacts(host: string, w: Window): void {
    const guess = this.opts.rewrites.seqs;
    const early = this.factsIn({ t: this.t, rewritten: guess }, host, w);
    early.catch(() => undefined);
    const facts = this.context().then((c) => (sameSeqs(c.rewritten, guess) ? early : this.factsIn(c, host, w)));
    // Unused if the host turns out unknown: its failure is not this call's.
    facts.catch(() => undefined);
    this.early = { host, w, facts };
  }

  /**
   * The facts of the hosts a list page must diagnose again (writes touched them since the last page), in a few
   * queries for them all rather than a round trip each.
   */
  async prefetchFactsOf(hosts: readonly string[], w: Window): Promise<void> {
    const c = await this.context();
    const select = this.select.bind(this);
    const read = chunksOf(hosts).map((chunk) => factsOfHosts(select, c, chunk, w, (h) => this.idOf(h)));
    const facts = Promise.all(read).then((maps) => new Map(maps.flatMap((m) => [...m])));
    this.bulk = { w, facts };
    await facts;
  }

  /** The traffic of hosts whose 421s a list page kept, for the facts() calls that follow, in bulk. */
  async prefetchTrafficOf(hosts: readonly string[], w: Window): Promise<void> {
    const c = await this.context();
    const memo = this.memoOf(w);
    const select = this.select.bind(this);
    await Promise.all(
      chunksOf(hosts).map(async (chunk) => {
        const traffic = await trafficOf(select, c, { hosts: chunk }, w);
        // No row in the window is no traffic, which facts() must not read again one host at a time.
        for (const host of chunk) memo.traffic.set(host, traffic.get(host) ?? noTraffic());
      }),
    );
  }

  async hostFacts(_hostId: number, host: string, w: Window): Promise<HostFacts> {
    const early = this.early;
    this.early = undefined;
    if (early !== undefined && early.host === host && sameWindow(early.w, w)) return early.facts;
    const bulk = this.bulk;
    const found = bulk !== undefined && sameWindow(bulk.w, w) ? (await bulk.facts).get(host) : undefined;
    if (found !== undefined) return found;
    return this.factsIn(await this.context(), host, w);
  }

  private async factsIn(c: q.Ctx, host: string, w: Window): Promise<HostFacts> {
    const facts = await factsOfHosts(this.select.bind(this), c, [host], w, (h) => this.idOf(h));
    return facts.get(host) as HostFacts;
  }

  async *detailByHost(w: Window): AsyncGenerator<HostDetail> {
    const memo = this.memoOf(w);
    memo.detail ??= Promise.all([
      this.details("detail", w),
      this.traffic("detail", w).then((t) => {
        for (const [host, traffic] of t) memo.traffic.set(host, traffic);
      }),
    ]).then(([detail]) => detail);
    for (const detail of (await memo.detail).values()) {
      // A host whose rows were all 400/403 answers that are not refusals has nothing to diagnose.
      if (detail.misdirected.length > 0 || detail.refused.length > 0) yield detail;
    }
  }

  /** Every host fetched in the window; their traffic is kept for the facts() calls that follow. */
  async hostsFetched(w: Window): Promise<number[]> {
    const memo = this.memoOf(w);
    const traffic = await this.traffic("all", w);
    for (const [host, t] of traffic) memo.traffic.set(host, t);
    return [...traffic.keys()].map((host) => this.idOf(host));
  }

  async facts(detail: HostDetail, w: Window): Promise<HostFacts> {
    const memo = this.memo !== undefined && sameWindow(this.memo.w, w) ? this.memo : undefined;
    let traffic = memo?.traffic.get(detail.host);
    // Not read in bulk: a host whose rows arrived between the bulk queries, or a caller that skipped them.
    if (traffic === undefined) {
      traffic = (await this.traffic({ host: detail.host }, w)).get(detail.host);
    }
    return factsOf(detail, w, traffic);
  }

  private async traffic(hosts: q.HostFilter, w: Window) {
    return trafficOf(this.select.bind(this), await this.context(), hosts, w);
  }

  private memoOf(w: Window): Memo {
    if (this.memo === undefined || !sameWindow(this.memo.w, w)) this.memo = { w, traffic: new Map() };
    return this.memo;
  }

  private async details(hosts: q.HostFilter, w: Window): Promise<Map<string, HostDetail>> {
    return detailsOf(this.select.bind(this), await this.context(), hosts, w, (host) => this.idOf(host));
  }
}
