/**
 * The batches this node's ingest logged, for this node's writer, as the store prepared them (BatchStore.prepare):
 * a node with both roles stores them as its ingest validated them instead of decoding and validating the message
 * again. Only a batch whose request entry ingest created itself, naming that very sequence, is handed over, which
 * is exactly when the writer's own reading of the message would come to the same fetches and store them.
 *
 * A batch may still be being prepared (on ingest's thread): the writer waits for it, and reads the message instead
 * if that fails. Bounded: a batch another writer stores, or one delivered before ingest handed it over, is simply
 * never taken, and the oldest go first once more than `maxRecords` wait. Whatever is not here is read from the
 * message.
 */
export class Handoff<P> {
  private readonly batches = new Map<number, { prepared: Promise<P>; records: number }>();
  private records = 0;

  constructor(private readonly maxRecords = 100_000) {}

  put(seq: number, prepared: P | Promise<P>, records: number): void {
    if (this.batches.has(seq) || records > this.maxRecords) return;
    const p = Promise.resolve(prepared);
    // Read by the writer or never: a failure here only means the message is read instead.
    p.catch(() => {});
    this.batches.set(seq, { prepared: p, records });
    this.records += records;
    for (const [old, b] of this.batches) {
      if (this.records <= this.maxRecords) break;
      this.batches.delete(old);
      this.records -= b.records;
    }
  }

  /** The batch `seq`, kept until done() (a group whose write failed is tried again with it). */
  get(seq: number): Promise<P> | undefined {
    return this.batches.get(seq)?.prepared;
  }

  done(seq: number): void {
    const b = this.batches.get(seq);
    if (b === undefined) return;
    this.batches.delete(seq);
    this.records -= b.records;
  }
}
