import type { Diagnosis, Window } from "./diagnosis.js";
import type { HostDetail } from "./read-store.js";

/** Hosts whose stored facts a commit changed: any traffic, and those that got a 421, refusal or retry row. */
export interface StoreChanges {
  hosts: readonly number[];
  detail: readonly number[];
}

// Bounds on memory: a diagnosis takes about a kilobyte. Reporting jobs use a few windows at a time (the default
// one, which moves every hour, and the ones their page tokens carry).
const MAX_WINDOWS = 4;
const MAX_ENTRIES = 100_000;
// 421s and refusals kept with their diagnoses, when kept (about 200 bytes each).
const MAX_DETAIL_FETCHES = 500_000;

/** What is known of one window: diagnoses by host id, and which hosts have a 421 or a refusal in it. */
export class WindowEntry {
  readonly diagnoses = new Map<number, Diagnosis>();
  /** Host id to name ("" = not looked up yet); undefined until one scan of the window's detail found them. */
  candidates: Map<number, string> | undefined;
  /** The 421s and refusals the diagnoses came from, if the cache keeps them (see DiagnosisCache). */
  readonly details = new Map<number, HostDetail>();

  constructor(private readonly cache: DiagnosisCache) {}

  put(hostId: number, d: Diagnosis, detail?: HostDetail): void {
    if (!this.diagnoses.has(hostId) && !this.cache.room()) return;
    this.diagnoses.set(hostId, d);
    if (detail !== undefined) this.cache.keep(this, hostId, detail);
  }
}

/**
 * Diagnoses computed for a window, kept until new data for their host arrives. A page of the list then costs a
 * lookup per host with 421s, plus a fresh diagnosis of the hosts that changed since the last page: the answers are
 * those of a computation from scratch. Whoever writes must report every change (`changed`), and every deletion
 * (`clear`), before answering the write.
 */
export class DiagnosisCache {
  private readonly windows = new Map<string, WindowEntry>();
  private detailFetches = 0;

  /**
   * `keepDetail`: keep each diagnosis's 421s and refusals too, so that a host whose traffic alone changed is
   * diagnosed again from its traffic (ReadStore.facts) rather than from all its rows. For a store read over the
   * network; it costs memory (bounded here).
   */
  constructor(readonly keepDetail = false) {}

  /** The entry of a window; the least recently used one goes when there are too many. */
  entry(w: Window): WindowEntry {
    const key = `${w.startMs}:${w.endMs}`;
    let e = this.windows.get(key);
    if (e !== undefined) this.windows.delete(key);
    else e = new WindowEntry(this);
    this.windows.set(key, e);
    for (const [old, gone] of this.windows) {
      if (this.windows.size <= MAX_WINDOWS) break;
      for (const id of [...gone.details.keys()]) this.drop(gone, id);
      this.windows.delete(old);
    }
    return e;
  }

  /**
   * A copy to apply changes to while calls that began before them go on writing to this one: a diagnosis such a
   * call read before a change then never lands in the copy (ClickHouse's query nodes, store/clickhouse/changes.ts).
   */
  copy(): DiagnosisCache {
    const out = new DiagnosisCache(this.keepDetail);
    for (const [key, e] of this.windows) {
      const c = new WindowEntry(out);
      for (const [id, d] of e.diagnoses) c.diagnoses.set(id, d);
      for (const [id, d] of e.details) c.details.set(id, d);
      c.candidates = e.candidates === undefined ? undefined : new Map(e.candidates);
      out.windows.set(key, c);
    }
    out.detailFetches = this.detailFetches;
    return out;
  }

  /** Keeps a host's 421s and refusals beside its diagnosis, while there is room. */
  keep(e: WindowEntry, hostId: number, detail: HostDetail): void {
    const n = detail.misdirected.length + detail.refused.length;
    if (!this.keepDetail || this.detailFetches + n > MAX_DETAIL_FETCHES) return;
    this.drop(e, hostId);
    e.details.set(hostId, detail);
    this.detailFetches += n;
  }

  private drop(e: WindowEntry, hostId: number): void {
    const d = e.details.get(hostId);
    if (d === undefined) return;
    e.details.delete(hostId);
    this.detailFetches -= d.misdirected.length + d.refused.length;
  }

  changed(c: StoreChanges): void {
    for (const e of this.windows.values()) {
      // Traffic alone: the kept 421s and refusals still hold.
      for (const id of c.hosts) e.diagnoses.delete(id);
      for (const id of c.detail) {
        e.diagnoses.delete(id);
        this.drop(e, id);
        // Maybe a 421 in this window: the next use diagnoses the host and keeps it only if so.
        if (e.candidates !== undefined && !e.candidates.has(id)) e.candidates.set(id, "");
      }
    }
  }

  clear(): void {
    this.windows.clear();
    this.detailFetches = 0;
  }

  room(): boolean {
    let n = 0;
    for (const e of this.windows.values()) n += e.diagnoses.size;
    return n < MAX_ENTRIES;
  }
}
