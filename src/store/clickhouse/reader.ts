import type { ClickHouseClient } from "@clickhouse/client";
import type { HostFacts, Window } from "../../domain/diagnosis.js";
import type { AlertRow, HostDetail, HourlyRow, ReadStore } from "../../domain/read-store.js";
import { HOUR_MS } from "../../domain/window.js";
import { detailsOf } from "./detail.js";
import * as q from "./queries.js";
import { type HostTraffic, trafficOf } from "./traffic.js";

/** What one bulk read of a window found: every candidate host's detail and the traffic of the hosts it read. */
interface Memo {
  w: Window;
  detail?: Promise<Map<string, HostDetail>>;
  traffic: Map<string, HostTraffic>;
}

const sameWindow = (a: Window, b: Window) => a.startMs === b.startMs && a.endMs === b.endMs;

/** Host names interned as the numbers the domain keys its maps by; shared by the readers of one store version. */
export class HostIds {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];

  idOf(host: string): number {
    let id = this.ids.get(host);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(host);
      this.ids.set(host, id);
    }
    return id;
  }

  nameOf(hostId: number): string {
    return this.names[hostId] ?? "";
  }

  get size(): number {
    return this.names.length;
  }
}

/**
 * The ReadStore of one query call. Host ids come from `hosts` (the domain keys maps by them); a list page reads
 * every candidate host's detail, retries and traffic in a few bulk queries on the first detailByHost call and
 * answers facts() from that, instead of a round trip per host.
 */
export class ClickHouseReader implements ReadStore {
  private memo: Memo | undefined;
  private ctx: Promise<q.Ctx> | undefined;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly t: q.Tables,
    private readonly hosts = new HostIds(),
  ) {}

  /** The tables and the seqs written more than once, read once for the call (a handful, or none). */
  private context(): Promise<q.Ctx> {
    this.ctx ??= this.select<{ seq: string | number }>(q.rewrittenSeqs(this.t)).then((rows) => ({
      t: this.t,
      rewritten: rows.map((r) => Number(r.seq)),
    }));
    return this.ctx;
  }

  private async select<T>(query: string): Promise<T[]> {
    const rs = await this.client.query({ query, format: "JSONEachRow" });
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

  async hostFacts(hostId: number, host: string, w: Window): Promise<HostFacts> {
    const filter = { host };
    const [detail, traffic] = await Promise.all([this.details(filter, w), this.traffic(filter, w)]);
    const d = detail.get(host) ?? { hostId, host, misdirected: [], refused: [] };
    return factsOf(d, w, traffic.get(host));
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

function factsOf(detail: HostDetail, w: Window, t: HostTraffic | undefined): HostFacts {
  return {
    host: detail.host,
    window: w,
    fetchCount: t?.fetchCount ?? 0,
    misdirected: detail.misdirected,
    refused: detail.refused,
    traffic: t?.addresses ?? [],
    lastOwnAnsweredHourMs: t?.lastOwnAnsweredHour === undefined ? undefined : t.lastOwnAnsweredHour * HOUR_MS,
  };
}
