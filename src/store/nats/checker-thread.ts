import type { Worker } from "node:worker_threads";
import { DomainError } from "../../domain/errors.js";
import { fromWire, startWorker, type WireError } from "../../worker-thread.js";
import type { BatchChecker, CheckedBatch, CheckInput, Replayed } from "./batch-check.js";
import type { BatchContext } from "./batch-message.js";

/** What the thread is asked: cluster-ingest-worker.ts answers all but forget with { id, value } or { id, error }. */
export type CheckerRequest =
  | { t: "check"; id: number; input: CheckInput }
  | { t: "prepare"; id: number; job: number; seq: number; refused: readonly number[] }
  | { t: "forget"; job: number }
  | { t: "replay"; id: number; seq: number; bytes: Uint8Array; context: BatchContext };

export type CheckerReply = { id: number; value: unknown } | { id: number; error: WireError };

interface Call {
  resolve(value: unknown): void;
  reject(e: Error): void;
}

/**
 * BatchChecker on a worker thread, so that decoding and validating never holds up this thread's event loop (the
 * NATS answers every call waits for). A thread that dies fails the calls it had, which their clients retry, and
 * the next call starts a new one; the batches it kept for the writer are then read from the log instead.
 */
export class ThreadChecker<P> implements BatchChecker<P> {
  private readonly calls = new Map<number, Call>();
  private next = 0;
  private worker: Promise<Worker> | undefined;

  constructor(private readonly module: string) {}

  /** Starts the thread now rather than on the first call (a node checks it can before it serves). */
  async start(): Promise<void> {
    await this.thread();
  }

  check(input: CheckInput): Promise<CheckedBatch> {
    const bytes = movable(input.bytes);
    const req: CheckerRequest = { t: "check", id: this.next++, input: { ...input, bytes } };
    return this.call(req, [bytes.buffer]) as Promise<CheckedBatch>;
  }

  replay(seq: number, data: Uint8Array, context: BatchContext): Promise<Replayed<P>> {
    const bytes = movable(data);
    const req: CheckerRequest = { t: "replay", id: this.next++, seq, bytes, context };
    return this.call(req, [bytes.buffer]) as Promise<Replayed<P>>;
  }

  prepare(job: number, seq: number, refused: readonly number[]): Promise<P> {
    return this.call({ t: "prepare", id: this.next++, job, seq, refused }) as Promise<P>;
  }

  forget(job: number): void {
    void this.worker?.then((w) => w.postMessage({ t: "forget", job } satisfies CheckerRequest));
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await (await w?.catch(() => undefined))?.terminate();
  }

  private async call(req: CheckerRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const w = await this.thread();
    return new Promise((resolve, reject) => {
      this.calls.set(req.id, { resolve, reject });
      w.postMessage(req, transfer);
    });
  }

  private thread(): Promise<Worker> {
    if (this.worker !== undefined) return this.worker;
    const started = startWorker(this.module, undefined).then((w) => {
      w.on("message", (r: CheckerReply) => {
        const c = this.calls.get(r.id);
        if (c === undefined) return;
        this.calls.delete(r.id);
        if ("error" in r) c.reject(fromWire(r.error));
        else c.resolve(r.value);
      });
      w.on("error", (e) => this.lost(started, e));
      w.on("exit", (code) => this.lost(started, new Error(`decoding thread exited with code ${code}`)));
      return w;
    });
    this.worker = started;
    started.catch(() => {
      if (this.worker === started) this.worker = undefined;
    });
    return started;
  }

  private lost(w: Promise<Worker>, cause: Error): void {
    if (this.worker === w) this.worker = undefined;
    for (const c of this.calls.values()) {
      c.reject(
        new DomainError("unavailable", "the decoding thread stopped; retry with the same request_id", 1000, { cause }),
      );
    }
    this.calls.clear();
  }
}

/**
 * A copy of a message's own bytes, to be moved to the thread: cloning the view would copy all of the buffer it is
 * in (and Buffer's slice() is a view, whose buffer must never be moved).
 */
function movable(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
