import type { Worker } from "node:worker_threads";
import type { StoreChanges } from "../../domain/diagnosis-cache.js";
import { DomainError } from "../../domain/errors.js";
import type { QueryInput, QueryName, QueryOutput, QueryRunner } from "../../domain/queries.js";
import type { Thresholds } from "../../domain/thresholds.js";
import type { Logger } from "../../log.js";
import { fromWire, startWorker, type WireError } from "../../worker-thread.js";

/** What the read worker is started with (workerData). */
export interface ReadSettings {
  dbPath: string;
  sync: "FULL" | "NORMAL";
  cacheMb: number;
  rules: Thresholds;
}

export type ReadAnswer = { id: number; result: unknown } | { id: number; error: WireError };

interface Waiting {
  resolve(result: unknown): void;
  reject(err: unknown): void;
}

/** Queries, answered by a worker thread with its own connection (read-worker.ts). */
export class ReadPool implements QueryRunner {
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private stopped: DomainError | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    log: Logger,
  ) {
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    worker.on("message", (a: ReadAnswer) => {
      const w = this.waiting.get(a.id);
      this.waiting.delete(a.id);
      if ("result" in a) w?.resolve(a.result);
      else w?.reject(fromWire(a.error));
    });
    worker.on("error", (err) => {
      log.error("read worker failed", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      this.fail(new DomainError("unavailable", "queries are not answered at the moment; retry later"));
    });
  }

  static async start(settings: ReadSettings, log: Logger): Promise<ReadPool> {
    return new ReadPool(await startWorker("store/sqlite/read-worker", settings, { maxYoungGenerationSizeMb: 16 }), log);
  }

  run<N extends QueryName>(name: N, input: QueryInput<N>, nowMs: number): Promise<QueryOutput<N>> {
    if (this.stopped !== undefined) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: (r) => resolve(r as QueryOutput<N>), reject });
      this.worker.postMessage({ id, name, input, nowMs });
    });
  }

  /**
   * What the writer changed ("all" after a purge), for the worker's cached diagnoses. Posted before the writes are
   * acknowledged: the worker reads its messages in order, so a query sent after an acknowledgement sees them.
   */
  changed(changes: StoreChanges | "all"): void {
    if (this.stopped === undefined) this.worker.postMessage({ changes });
  }

  async close(): Promise<void> {
    if (this.stopped === undefined) {
      this.stopped = new DomainError("unavailable", "the server is shutting down");
      this.worker.postMessage("close");
    }
    await this.exited;
    this.fail(this.stopped);
  }

  private fail(err: DomainError): void {
    this.stopped ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
