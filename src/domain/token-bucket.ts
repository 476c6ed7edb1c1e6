import { DomainError } from "./errors.js";

/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. A request larger than the whole bucket is let
 * through when the bucket is full and leaves it in debt, so that every request the size limits allow can pass
 * while the long-run rate still holds.
 */
export class TokenBucket {
  private tokens: number;

  constructor(
    private rate: number,
    private burst: number,
    private at: number,
  ) {
    this.tokens = burst;
  }

  /** Takes `n` tokens and answers 0, or takes none and answers the ms to wait until they would be there. */
  take(n: number, nowMs: number): number {
    const waitMs = this.waitFor(n, nowMs);
    if (waitMs === 0) this.tokens -= n;
    return waitMs;
  }

  /** The ms until `n` tokens could be taken; 0 = now. Takes nothing. */
  waitFor(n: number, nowMs: number): number {
    this.refill(nowMs);
    const needed = Math.min(n, this.burst);
    if (this.tokens >= needed) return 0;
    return Math.max(1, Math.ceil(((needed - this.tokens) / this.rate) * 1000));
  }

  /** Gives back tokens of a request that was not carried out after all. */
  refund(n: number): void {
    this.tokens = Math.min(this.burst, this.tokens + n);
  }

  /** A new rate (the auth file was reloaded): what was saved up is kept, capped at the new burst. */
  setRate(rate: number, burst: number, nowMs: number): void {
    this.refill(nowMs);
    this.rate = rate;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  get ratePerS(): number {
    return this.rate;
  }

  /** A full bucket behaves like a new one, so it can be dropped and made again when needed. */
  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.burst;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.at) this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.at) / 1000) * this.rate);
    this.at = Math.max(this.at, nowMs);
  }
}

// How much a client may save up: a quarter second of its rate. A saved-up burst is committed in one go and delays
// the other clients' commits, so it is kept short; larger batches still pass (see TokenBucket), at the same rate.
const BURST_SECONDS = 0.25;
// Buckets of clients that went quiet are dropped this often, so memory follows the clients active lately.
const SWEEP_EVERY_MS = 10_000;

/**
 * Fair sharing of ingest between clients: one token bucket of records per client. `defaultRate` is the records a
 * second each client may send unless it has its own figure; 0 means no limit.
 */
export class ClientBudgets {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = 0;

  constructor(private readonly defaultRate: number) {}

  /** The records a second `own` (a client's own figure, if any) comes to; 0 = no limit. */
  rateOf(own: number | undefined): number {
    return own ?? this.defaultRate;
  }

  /**
   * Takes `records` from the client's budget, or throws RESOURCE_EXHAUSTED with the delay after which they would
   * fit. Nothing is taken from a refused call.
   */
  take(client: string, records: number, own: number | undefined, nowMs: number): void {
    const rate = this.rateOf(own);
    this.sweep(nowMs);
    if (rate === 0) {
      this.buckets.delete(client);
      return;
    }
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      bucket = new TokenBucket(rate, rate * BURST_SECONDS, nowMs);
      this.buckets.set(client, bucket);
    } else if (bucket.ratePerS !== rate) {
      bucket.setRate(rate, rate * BURST_SECONDS, nowMs);
    }
    const waitMs = bucket.take(records, nowMs);
    if (waitMs > 0) throw overShare(rate, waitMs);
  }

  /**
   * Throws RESOURCE_EXHAUSTED when the client has nothing left, which no batch could pass, before its size is known:
   * the call can be refused without reading it. Takes nothing.
   */
  refuseIfSpent(client: string, own: number | undefined, nowMs: number): void {
    const bucket = this.buckets.get(client);
    const rate = this.rateOf(own);
    if (bucket === undefined || rate === 0 || bucket.ratePerS !== rate) return;
    const waitMs = bucket.waitFor(1, nowMs);
    if (waitMs > 0) throw overShare(rate, waitMs);
  }

  /** Gives records back, for a call the server turned away after taking them (the write queue was full). */
  refund(client: string, records: number): void {
    this.buckets.get(client)?.refund(records);
  }

  /** Clients with a bucket now (for tests of the memory bound). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = nowMs;
    for (const [client, bucket] of this.buckets) if (bucket.isFull(nowMs)) this.buckets.delete(client);
  }
}

function overShare(rate: number, waitMs: number): DomainError {
  return new DomainError(
    "resource_exhausted",
    `this client is over its share of ${rate} records a second; nothing was stored, retry after the delay`,
    waitMs,
  );
}
