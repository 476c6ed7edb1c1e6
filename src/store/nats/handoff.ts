import type { Fetch } from "../../domain/fetch.js";

/**
 * The accepted fetches of the batches this node's ingest logged, for this node's writer: a node with both roles
 * stores them as ingest validated them instead of decoding and validating the message again. Only a batch whose
 * request entry ingest created itself, naming that very sequence, is handed over, which is exactly when the
 * writer's own reading of the message would come to the same fetches and store them.
 *
 * Bounded: a batch another writer stores, or one delivered before ingest handed it over, is simply never taken,
 * and the oldest go first once more than `maxRecords` wait. Whatever is not here is read from the message.
 */
export class Handoff {
  private readonly batches = new Map<number, readonly Fetch[]>();
  private records = 0;

  constructor(private readonly maxRecords = 100_000) {}

  put(seq: number, fetches: readonly Fetch[]): void {
    if (this.batches.has(seq)) return;
    this.batches.set(seq, fetches);
    this.records += fetches.length;
    for (const [old, f] of this.batches) {
      if (this.records <= this.maxRecords) break;
      this.batches.delete(old);
      this.records -= f.length;
    }
  }

  /** The fetches of `seq`, kept until done() (a group whose write failed is tried again with them). */
  get(seq: number): readonly Fetch[] | undefined {
    return this.batches.get(seq);
  }

  done(seq: number): void {
    const f = this.batches.get(seq);
    if (f === undefined) return;
    this.batches.delete(seq);
    this.records -= f.length;
  }
}
