import type { Worker } from "node:worker_threads";
import type { StoreChanges } from "../../domain/diagnosis-cache.js";
import { DomainError } from "../../domain/errors.js";
import type { IngestResult, IngestSink, ReceivedBatch } from "../../domain/ingest.js";
import type { CrawlerTally } from "../../domain/ingest-tally.js";
import { WriteBudget } from "../../domain/write-budget.js";
import type { Logger } from "../../log.js";
import { fromWire, startWorker, type WireError } from "../../worker-thread.js";

/** What the write worker is started with (workerData). */
export interface WriterSettings {
  dbPath: string;
  sync: "FULL" | "NORMAL";
  maxBatch: number;
  retentionDays: number;
  /** Storage quota in bytes, 0 for none. */
  maxBytes: number;
}

export interface PurgeCounts {
  hourly: number;
  detail: number;
  requests: number;
}

export type ToWorker =
  | {
      type: "batch";
      id: number;
      bytes: Uint8Array;
      records: number;
      nowMs: number;
      denied?: string[] | undefined;
      client?: string | undefined;
    }
  | { type: "purge"; id: number; nowMs: number }
  | { type: "close" };

export type Answer = { id: number; result: IngestResult } | { id: number; error: WireError };

export type FromWorker =
  | { type: "done"; busyMs: number; answers: Answer[]; changes: StoreChanges; crawlers: CrawlerTally[] }
  | { type: "purged"; id: number; counts: PurgeCounts };

/** What one group commit did, for the metrics. */
export interface GroupCommitted {
  batches: number;
  records: number;
  /** The writer's time for the group: decoding, validation and the commit. */
  busyMs: number;
  /** Batches answered from an earlier commit (a request_id sent again). */
  replayed: number;
  /** Records accepted and rejected per crawler, replays left out. */
  crawlers: CrawlerTally[];
}

interface Waiting {
  records: number;
  resolve(result: IngestResult): void;
  reject(err: unknown): void;
}

// Each group of batches allocates a few MB of short-lived objects; a young generation that holds a whole group
// keeps them from being copied around by scavenges (measured: GC was a third of the decode cost at the default).
const YOUNG_GENERATION_MB = 32;

/**
 * The write path seen from the transport: a bounded queue in front of one worker thread that owns the SQLite
 * writer connection. The worker decodes, validates and commits whatever has queued up in one transaction (group
 * commit), so neither decoding nor fsync ever blocks the thread that serves gRPC, and queries keep their own
 * connection. Each batch is answered after the commit that holds it.
 */
export class WriteQueue implements IngestSink {
  private readonly waiting = new Map<number, Waiting>();
  private readonly purges = new Map<number, (counts: PurgeCounts) => void>();
  private readonly changeListeners: ((changes: StoreChanges | "all") => void)[] = [];
  private committedListener: ((g: GroupCommitted) => void) | undefined;
  private nextId = 1;
  /** When the writer last answered, or when a batch came to wait after it had none: for the lag. */
  private progressAt = performance.now();
  private stopped: DomainError | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly budget: WriteBudget,
    log: Logger,
  ) {
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    worker.on("message", (m: FromWorker) => this.receive(m));
    worker.on("error", (err) => {
      log.error("write worker failed", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      this.fail(new DomainError("unavailable", "the writer stopped; retry with the same request_id"));
    });
  }

  /** Starts the worker; resolves once it has opened (and migrated) the database. */
  static async start(settings: WriterSettings, queueRecords: number, log: Logger): Promise<WriteQueue> {
    const limits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB };
    return new WriteQueue(
      await startWorker("store/sqlite/write-worker", settings, limits),
      new WriteBudget(queueRecords),
      log,
    );
  }

  submit(b: ReceivedBatch): Promise<IngestResult> {
    if (this.stopped !== undefined) return Promise.reject(this.stopped);
    // An empty batch still takes a place: a flood of them must not queue up without bound either.
    const records = Math.max(1, b.records);
    try {
      this.budget.admit(records);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.nextId++;
    if (this.waiting.size === 0) this.progressAt = performance.now();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { records, resolve, reject });
      this.post({
        type: "batch",
        id,
        bytes: b.bytes,
        records,
        nowMs: b.nowMs,
        denied: b.deniedCrawlers,
        client: b.client,
      });
    });
  }

  /** Runs retention in the writer, between two commits. */
  purge(nowMs: number): Promise<PurgeCounts> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.purges.set(id, resolve);
      this.post({ type: "purge", id, nowMs });
    });
  }

  /** Lets queued batches commit, then closes the database and ends the worker. */
  async close(): Promise<void> {
    if (this.stopped === undefined) this.post({ type: "close" });
    this.stopped ??= new DomainError("unavailable", "the server is shutting down; nothing was stored, retry later");
    await this.exited;
    this.fail(this.stopped);
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  /** Tells `listener` what each commit changed ("all" after a purge), before the commit is acknowledged. */
  onChanges(listener: (changes: StoreChanges | "all") => void): void {
    this.changeListeners.push(listener);
  }

  /** Tells `listener` what each group commit did (the metrics). */
  onCommitted(listener: (g: GroupCommitted) => void): void {
    this.committedListener = listener;
  }

  /** Records waiting for their commit or in one. */
  get queuedRecords(): number {
    return this.budget.records;
  }

  get capacityRecords(): number {
    return this.budget.capacity;
  }

  /** Batches waiting for their commit or in one. */
  get queuedBatches(): number {
    return this.waiting.size;
  }

  /** Seconds the writer has made no progress while batches waited; 0 when none waits. */
  lagSeconds(): number {
    return this.waiting.size === 0 ? 0 : (performance.now() - this.progressAt) / 1000;
  }

  private receive(m: FromWorker): void {
    if (m.type === "purged") {
      for (const l of this.changeListeners) l("all");
      this.purges.get(m.id)?.(m.counts);
      this.purges.delete(m.id);
      return;
    }
    if (m.type !== "done") return;
    this.progressAt = performance.now();
    for (const l of this.changeListeners) l(m.changes);
    let records = 0;
    let replayed = 0;
    for (const a of m.answers) {
      const w = this.waiting.get(a.id);
      if (w === undefined) continue;
      this.waiting.delete(a.id);
      records += w.records;
      if ("result" in a) {
        if (a.result.replayed) replayed++;
        w.resolve(a.result);
      } else w.reject(fromWire(a.error));
    }
    this.budget.release(records, m.busyMs);
    const batches = m.answers.length;
    this.committedListener?.({ batches, records, busyMs: m.busyMs, replayed, crawlers: m.crawlers });
  }

  private fail(err: DomainError): void {
    this.stopped ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
