import type { Diagnosis, Window } from "./diagnosis.js";

/** Hosts whose stored facts a commit changed: any traffic, and those that got a 421, refusal or retry row. */
export interface StoreChanges {
  hosts: readonly number[];
  detail: readonly number[];
}

// Bounds on memory: a diagnosis takes about a kilobyte. Reporting jobs use a few windows at a time (the default
// one, which moves every hour, and the ones their page tokens carry).
const MAX_WINDOWS = 4;
const MAX_ENTRIES = 100_000;

/** What is known of one window: diagnoses by host id, and which hosts have a 421 or a refusal in it. */
export class WindowEntry {
  readonly diagnoses = new Map<number, Diagnosis>();
  /** Host id to name ("" = not looked up yet); undefined until one scan of the window's detail found them. */
  candidates: Map<number, string> | undefined;

  constructor(private readonly cache: DiagnosisCache) {}

  put(hostId: number, d: Diagnosis): void {
    if (this.diagnoses.has(hostId) || this.cache.room()) this.diagnoses.set(hostId, d);
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

  /** The entry of a window; the least recently used one goes when there are too many. */
  entry(w: Window): WindowEntry {
    const key = `${w.startMs}:${w.endMs}`;
    let e = this.windows.get(key);
    if (e !== undefined) this.windows.delete(key);
    else e = new WindowEntry(this);
    this.windows.set(key, e);
    for (const old of this.windows.keys()) {
      if (this.windows.size <= MAX_WINDOWS) break;
      this.windows.delete(old);
    }
    return e;
  }

  /**
   * A copy to apply changes to while calls that began before them go on writing to this one: a diagnosis such a
   * call read before a change then never lands in the copy (ClickHouse's query nodes, store/clickhouse/changes.ts).
   */
  copy(): DiagnosisCache {
    const out = new DiagnosisCache();
    for (const [key, e] of this.windows) {
      const c = new WindowEntry(out);
      for (const [id, d] of e.diagnoses) c.diagnoses.set(id, d);
      c.candidates = e.candidates === undefined ? undefined : new Map(e.candidates);
      out.windows.set(key, c);
    }
    return out;
  }

  changed(c: StoreChanges): void {
    for (const e of this.windows.values()) {
      for (const id of c.hosts) e.diagnoses.delete(id);
      for (const id of c.detail) {
        e.diagnoses.delete(id);
        // Maybe a 421 in this window: the next use diagnoses the host and keeps it only if so.
        if (e.candidates !== undefined && !e.candidates.has(id)) e.candidates.set(id, "");
      }
    }
  }

  clear(): void {
    this.windows.clear();
  }

  room(): boolean {
    let n = 0;
    for (const e of this.windows.values()) n += e.diagnoses.size;
    return n < MAX_ENTRIES;
  }
}
