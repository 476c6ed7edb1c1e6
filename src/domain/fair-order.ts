// How fast a client's past use is forgotten: half of it every second, the time scale of the shares themselves.
const HALF_LIFE_MS = 1000;
// Below this many records of recent use a client is as good as new: forgotten, so the map stays small.
const FORGOTTEN = 0.5;

/**
 * The order in which waiting batches are written when several clients wait: whoever was served least lately goes
 * first, each client's own batches in the order they came. A client that sends ten times its share then never puts
 * its large batches ahead of another's small one, and with a single client the order is simply arrival.
 */
export class FairOrder {
  private readonly used = new Map<string, { records: number; atMs: number }>();

  /** Sorts `waiting` in place (stable: a client's batches keep their order). */
  order<T extends { client?: string | undefined }>(waiting: T[], nowMs: number): void {
    const first = waiting[0]?.client;
    if (waiting.every((b) => b.client === first)) return;
    const score = new Map<string | undefined, number>();
    for (const b of waiting) if (!score.has(b.client)) score.set(b.client, this.usage(b.client, nowMs));
    waiting.sort((a, b) => (score.get(a.client) ?? 0) - (score.get(b.client) ?? 0));
  }

  /** Counts records written for a client. */
  charge(client: string | undefined, records: number, nowMs: number): void {
    if (client === undefined) return;
    this.used.set(client, { records: this.usage(client, nowMs) + records, atMs: nowMs });
  }

  private usage(client: string | undefined, nowMs: number): number {
    const u = client === undefined ? undefined : this.used.get(client);
    if (client === undefined || u === undefined) return 0;
    const records = u.records * 0.5 ** (Math.max(0, nowMs - u.atMs) / HALF_LIFE_MS);
    if (records < FORGOTTEN) this.used.delete(client);
    return records;
  }
}
