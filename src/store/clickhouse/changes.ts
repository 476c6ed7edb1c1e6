import { DiagnosisCache } from "../../domain/diagnosis-cache.js";
import { HostIds } from "./host-ids.js";

/** The diagnoses a query node computed, and the host ids they are keyed by. */
export interface Kept {
  cache: DiagnosisCache;
  ids: HostIds;
}

/** The change log as a node read it: count and checksum of every change (from its daily totals), and the recent ids. */
export interface ChangeLog {
  count: number;
  sum: bigint;
  last: number;
  recent: number[];
}

/** The hosts some changes touched; `whole`: how many of those changes listed every host they touched. */
export interface TouchedHosts {
  hosts: string[];
  detail: string[];
  whole: number;
  /** More hosts than the limit asked for; `hosts` is not all of them. */
  more: boolean;
}

/** What the store tells about its changes (ClickHouseStore). */
export interface ChangeFeed {
  changes(sinceMs: number): Promise<ChangeLog>;
  touched(ids: readonly number[], sinceMs: number, limit: number): Promise<TouchedHosts>;
}

// A change's time is taken by its writer before its rows are stored, on that writer's clock: one that becomes
// visible later than this after it, or with a clock further behind, is not found among the recent ones, and the
// checksum then fails and everything is dropped. Correct either way; only slower.
const HORIZON_MS = 60_000;
// Past this many interned hosts (a listing that included every host fetched), start afresh rather than grow.
const MAX_IDS = 2_000_000;
// Past this many changes since the last page, reading what they touched costs about what recomputing does.
const MAX_CHANGES = 2000;
// Past this many hosts touched (a bulk load), the same: and their names alone would be megabytes.
const MAX_TOUCHED = 50_000;
const WRAP = 2n ** 64n;

/**
 * Diagnoses kept across calls, dropped host by host as writes on any node touch them, as SQLite's cache is.
 * Writers record each finished write in store_changes after its rows are stored, and the hosts it touched in
 * store_changed_hosts before that. Before a page, the node reads the count and checksum of the changes and the ids
 * of the recent ones: if the new recent ids account exactly for the new count and checksum, the hosts they touched
 * are dropped from a copy of what was kept (calls still running on the old one write to it, not to the copy, so a
 * diagnosis read before a change can never outlive it); if not, or if a change did not list its hosts (a purge),
 * everything is dropped.
 */
export class VersionedCache {
  private seen: Seen | undefined;
  private kept: Kept = fresh();
  private turn: Promise<unknown> = Promise.resolve();

  /** What is kept for the store as it is now. Calls take turns: each compares with what the previous one read. */
  at(feed: ChangeFeed): Promise<Kept> {
    const next = this.turn.then(() => this.update(feed));
    this.turn = next.catch(() => undefined);
    return next;
  }

  private async update(feed: ChangeFeed): Promise<Kept> {
    const before = this.seen;
    // Until this call has applied what it read, the next one must not take it as seen.
    this.seen = undefined;
    const since = (before?.last ?? Date.now()) - HORIZON_MS;
    const log = await feed.changes(since);
    this.kept = await this.after(feed, before, log, since);
    // No change since `since`: the next call looks back from the same moment.
    this.seen = { ...log, last: log.last > 0 ? log.last : since + HORIZON_MS, ids: new Set(log.recent) };
    return this.kept;
  }

  private async after(feed: ChangeFeed, before: Seen | undefined, log: ChangeLog, since: number): Promise<Kept> {
    if (before === undefined) return fresh();
    if (log.count === before.count && log.sum === before.sum) return this.kept;
    const added = log.recent.filter((id) => !before.ids.has(id));
    const sum = added.reduce((s, id) => s + BigInt(id), before.sum) % WRAP;
    const accounted = log.count === before.count + added.length && log.sum === sum;
    if (!accounted || added.length > MAX_CHANGES || this.kept.ids.size > MAX_IDS) return fresh();
    const touched = await feed.touched(added, since, MAX_TOUCHED);
    if (touched.whole !== added.length || touched.more) return fresh();
    const { ids } = this.kept;
    const cache = this.kept.cache.copy();
    cache.changed({ hosts: touched.hosts.map((h) => ids.idOf(h)), detail: touched.detail.map((h) => ids.idOf(h)) });
    return { cache, ids };
  }
}

type Seen = ChangeLog & { ids: Set<number> };

function fresh(): Kept {
  // Keeping the 421s: a host whose traffic alone changed is diagnosed again without reading them (DiagnosisCache).
  return { cache: new DiagnosisCache(true), ids: new HostIds() };
}
