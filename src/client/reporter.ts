import { randomBytes } from "node:crypto";
import type { FetchRecord } from "../gen/webmasterid/crawldiag/v1/fetch.js";
import { callMetadata, ingestClient } from "./channel.js";
import type { ReportedFetch, Reporter, ReporterOptions, ReporterStats } from "./reporter-types.js";
import { type BatchError, DEFAULT_RETRY, type RetryPolicy, sendBatch } from "./send.js";

export type { RejectedRecord, ReportedFetch, Reporter, ReporterOptions, ReporterStats } from "./reporter-types.js";

const RESOLVED = Promise.resolve();

export function createReporter(options: ReporterOptions): Reporter {
  return new BatchingReporter(options);
}

class BatchingReporter implements Reporter {
  private readonly client;
  private readonly metadata;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly flushIntervalMs: number;
  private readonly retry: RetryPolicy;
  private readonly queue: FetchRecord[] = [];
  private readonly waiters: { record: FetchRecord; admitted: () => void }[] = [];
  private readonly flushes: { target: number; done: () => void }[] = [];
  /** Failures nobody has been told about yet: the next flush or close rejects with them. */
  private unreported: Error[] = [];
  private inFlight = 0;
  /** Records answered or given up, in report order (one batch is in flight at a time). */
  private settled = 0;
  private running = false;
  private due = false;
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly counts = { reported: 0, accepted: 0, rejected: 0, failed: 0, replayedBatches: 0, retries: 0 };

  constructor(private readonly o: ReporterOptions) {
    this.batchSize = whole("batchSize", o.batchSize ?? 500, 1);
    this.maxBuffered = whole("maxBuffered", o.maxBuffered ?? 10_000, this.batchSize);
    this.flushIntervalMs = whole("flushIntervalMs", o.flushIntervalMs ?? 1_000, 0);
    this.retry = { ...DEFAULT_RETRY, ...o.retry };
    this.metadata = callMetadata(o.token);
    this.client = ingestClient(o);
  }

  report(input: ReportedFetch): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new Error("reporter is closed"));
    const record: FetchRecord = {
      protocol: 0,
      connection: undefined,
      retryOf: "",
      serverSoftware: "",
      ...input,
      crawler: input.crawler || this.o.crawler,
    };
    this.counts.reported++;
    if (this.waiters.length === 0 && this.room() > 0) {
      this.admit(record);
      return RESOLVED;
    }
    return new Promise((admitted) => this.waiters.push({ record, admitted }));
  }

  flush(): Promise<void> {
    return new Promise<void>((done) => {
      this.flushes.push({ target: this.counts.reported, done });
      this.settleFlushes();
      this.kick();
    }).then(() => {
      const errors = this.unreported;
      this.unreported = [];
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, `${errors.length} batches were given up`);
    });
  }

  close(): Promise<void> {
    this.closing ??= this.flush().finally(() => {
      clearTimeout(this.timer);
      this.client.close();
    });
    return this.closing;
  }

  stats(): ReporterStats {
    return { ...this.counts, buffered: this.queue.length + this.inFlight + this.waiters.length };
  }

  private room(): number {
    return this.maxBuffered - this.queue.length - this.inFlight;
  }

  private admit(record: FetchRecord): void {
    this.queue.push(record);
    if (this.queue.length >= this.batchSize) this.kick();
    else if (this.timer === undefined && !this.running) this.arm();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      this.kick();
    }, this.flushIntervalMs);
  }

  private wantsToSend(): boolean {
    if (this.queue.length >= this.batchSize) return true;
    return this.queue.length > 0 && (this.due || this.flushes.length > 0);
  }

  private kick(): void {
    if (this.running || !this.wantsToSend()) return;
    this.running = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.drain().finally(() => {
      this.running = false;
      if (this.queue.length === 0) this.due = false;
      if (this.wantsToSend()) this.kick();
      else if (this.queue.length > 0 && this.timer === undefined) this.arm();
    });
  }

  private async drain(): Promise<void> {
    while (this.wantsToSend()) {
      const records = this.queue.splice(0, this.batchSize);
      this.inFlight = records.length;
      await this.send(records);
      this.inFlight = 0;
      this.settled += records.length;
      while (this.room() > 0) {
        const w = this.waiters.shift();
        if (w === undefined) break;
        this.queue.push(w.record);
        w.admitted();
      }
      this.settleFlushes();
    }
  }

  private async send(records: FetchRecord[]): Promise<void> {
    const requestId = randomBytes(16).toString("base64url");
    try {
      const res = await sendBatch(
        this.client,
        { requestId, records },
        {
          retry: this.retry,
          deadlineMs: this.o.deadlineMs ?? 30_000,
          metadata: this.metadata,
          onRetry: () => this.counts.retries++,
        },
      );
      this.counts.accepted += res.acceptedCount;
      this.counts.rejected += res.rejectedCount;
      if (res.replayed) this.counts.replayedBatches++;
      if (res.rejectedCount > 0 && this.o.onRejected !== undefined) {
        const rejected = res.rejections.flatMap((r) => {
          const record = records[r.index];
          return record === undefined ? [] : [{ record, field: r.field, reason: r.reason }];
        });
        this.callback(() => this.o.onRejected?.(rejected, { requestId, rejectedCount: res.rejectedCount }));
      }
    } catch (e) {
      this.counts.failed += records.length;
      const error = e as BatchError;
      if (this.o.onBatchFailed === undefined) this.unreported.push(error);
      else this.callback(() => this.o.onBatchFailed?.(error, records));
    }
  }

  /** A throwing callback must not stop the sending loop; its error surfaces at the next flush instead. */
  private callback(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.unreported.push(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private settleFlushes(): void {
    for (let i = this.flushes.length - 1; i >= 0; i--) {
      const f = this.flushes[i];
      if (f !== undefined && this.settled >= f.target) {
        this.flushes.splice(i, 1);
        f.done();
      }
    }
  }
}

function whole(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be a whole number >= ${min}`);
  return value;
}
