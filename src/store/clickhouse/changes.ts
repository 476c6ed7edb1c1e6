import { DiagnosisCache } from "../../domain/diagnosis-cache.js";
import { HostIds } from "./host-ids.js";

/** The diagnoses a query node computed, and the host ids they are keyed by, valid for one store version. */
export interface Kept {
  cache: DiagnosisCache;
  ids: HostIds;
}

// Past this many interned hosts (a listing that included every host fetched), start afresh rather than grow.
const MAX_IDS = 2_000_000;

/**
 * Diagnoses kept across calls while the store does not change. Writers on any node record each finished write
 * and each purge in store_changes after the rows are stored, so a version read before a computation that equals
 * the one read before the next call means the data are the same: the kept diagnoses are what a computation from
 * scratch would give. Any change drops everything kept (SQLite's cache drops only the hosts a write touched;
 * knowing those here would mean reading what each write touched).
 */
export class VersionedCache {
  private version: string | undefined;
  private kept: Kept = fresh();

  /** What is kept for `version`; nothing, if the store changed since the last call. */
  at(version: string): Kept {
    if (version !== this.version || this.kept.ids.size > MAX_IDS) {
      this.version = version;
      this.kept = fresh();
    }
    return this.kept;
  }
}

function fresh(): Kept {
  return { cache: new DiagnosisCache(), ids: new HostIds() };
}
