import { DomainError } from "./errors.js";

const MIN_RETRY_MS = 20;
const MAX_RETRY_MS = 5_000;
// Before the first commit there is no rate to go by.
const FIRST_RETRY_MS = 200;

/**
 * The bounded write queue's accounting: at most `capacity` records wait for their commit or are in one. A batch
 * that does not fit is refused (UNAVAILABLE) with a retry delay, never buffered, so memory stays bounded whatever
 * clients do. A batch larger than the whole queue gets in when the queue is empty, so that every batch the size
 * limit allows can be written.
 */
export class WriteBudget {
  private queued = 0;
  /** Records committed per ms of the writer's busy time, smoothed. */
  private rate = 0;

  constructor(readonly capacity: number) {}

  get records(): number {
    return this.queued;
  }

  /** Takes room for a batch, or throws UNAVAILABLE with the time the queue needs to drain as the retry delay. */
  admit(records: number): void {
    if (this.queued > 0 && this.queued + records > this.capacity) {
      throw new DomainError(
        "unavailable",
        `the write queue is full (${this.queued} records waiting); nothing was stored, retry later`,
        this.retryAfterMs(),
      );
    }
    this.queued += records;
  }

  /** Gives back the room of batches that are answered; `busyMs` is what the writer spent on them. */
  release(records: number, busyMs: number): void {
    this.queued -= records;
    if (records > 0 && busyMs > 0) {
      const seen = records / busyMs;
      this.rate = this.rate === 0 ? seen : 0.8 * this.rate + 0.2 * seen;
    }
  }

  private retryAfterMs(): number {
    if (this.rate === 0) return FIRST_RETRY_MS;
    return Math.round(Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, this.queued / this.rate)));
  }
}
