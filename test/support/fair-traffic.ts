import { fork } from "node:child_process";
import { setPriority } from "node:os";
import { fileURLToPath } from "node:url";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Client, credentials, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { RecordFetchesRequest, RecordFetchesResponse } from "../../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { record } from "./records.js";

const METHOD = "/webmasterid.crawldiag.v1.IngestService/RecordFetches";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
/** A clock that two processes of this machine share. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** One call as the client saw it. */
export interface Sent {
  /** When it was sent, by wallMs(). */
  at: number;
  ms: number;
  accepted: number;
  code: number;
}

/**
 * A client of its own channel that sends pre-encoded RecordFetches requests (a fresh request_id in front of the
 * same encoded records), so that sending costs next to nothing on the client side.
 */
export class RawIngest {
  private readonly client: Client;
  private readonly records: Uint8Array;
  private seq = 0;

  constructor(
    port: number,
    private readonly tag: string,
    batchSize: number,
    private readonly metadata: () => Metadata,
  ) {
    this.client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    // Plain 200s keep no per-fetch detail, so the same records can be sent again and again and always count.
    const host = `${tag}.fair.example.com`;
    const all = Array.from({ length: batchSize }, () => record({ url: `https://${host}/`, crawler: tag }));
    this.records = RecordFetchesRequest.encode({ requestId: "", records: all }).finish();
  }

  send(): Promise<Sent> {
    const head = new BinaryWriter()
      .tag(1, 2)
      .string(`${this.tag}-${process.pid}-${++this.seq}`)
      .finish();
    const body = Buffer.concat([head, this.records]);
    const at = wallMs();
    const started = performance.now();
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        METHOD,
        (b: Buffer) => b,
        (b: Buffer) => RecordFetchesResponse.decode(b),
        body,
        this.metadata(),
        { deadline: Date.now() + 30_000 },
        (err: ServiceError | null, res?: RecordFetchesResponse) =>
          resolve({ at, ms: performance.now() - started, accepted: res?.acceptedCount ?? 0, code: err?.code ?? 0 }),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/**
 * Sends one call every `everyMs` for `durationMs`, waiting for each answer first (as a reporter does). A tick that
 * passes while an answer is awaited is skipped, not made up later: a slow server shows as fewer records a second.
 */
export async function paced(c: RawIngest, everyMs: number, durationMs: number): Promise<Sent[]> {
  const sent: Sent[] = [];
  const start = performance.now();
  for (let due = start; ; ) {
    await sleep(due - performance.now());
    if (performance.now() - start >= durationMs) return sent;
    sent.push(await c.send());
    due = Math.max(due + everyMs, start + Math.ceil((performance.now() - start) / everyMs) * everyMs);
  }
}

/** Whether a flood is on at a time: the odd slices of `sliceMs` from `t0`, on both processes' clock. */
export interface Slices {
  t0: number;
  sliceMs: number;
}

export const sliceOf = (s: Slices, at: number): number => Math.floor((at - s.t0) / s.sliceMs);

/**
 * Floods in the odd slices from `s.t0` until `endAt`: one call every `everyMs` without waiting for answers. Resolves
 * with every call once the last is answered.
 */
export async function slicedFlood(c: RawIngest, everyMs: number, s: Slices, endAt: number): Promise<Sent[]> {
  const calls: Promise<Sent>[] = [];
  for (let i = 0; ; i++) {
    const due = s.t0 + i * everyMs;
    if (due >= endAt) break;
    await sleep(due - wallMs());
    if (sliceOf(s, due) % 2 === 1) calls.push(c.send());
  }
  return Promise.all(calls);
}

export interface ClientChild {
  /** Sends until `endAt` (a flood: in the odd slices only); resolves with its calls once the last is answered. */
  run(s: Slices, endAt: number): Promise<Sent[]>;
  close(): void;
}

export interface ClientOptions {
  tag: string;
  /** Records in each call. */
  batch: number;
  everyMs: number;
  /** paced: one call at a time, as a reporter sends; flood: without waiting for answers, in the odd slices. */
  mode: "paced" | "flood";
  /** Process priority, as for os.setPriority: above 0 yields the CPU to every other process. */
  nice?: number;
}

/** A client in a child process of its own (client-child.ts). */
export async function forkClient(port: number, token: string, o: ClientOptions): Promise<ClientChild> {
  const child = fork(fileURLToPath(new URL("./client-child.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    // The token goes by the environment: arguments show in `ps`.
    env: {
      ...process.env,
      CLIENT_PORT: String(port),
      CLIENT_TOKEN: token,
      CLIENT_TAG: o.tag,
      CLIENT_BATCH: String(o.batch),
      CLIENT_EVERY_MS: String(o.everyMs),
      CLIENT_MODE: o.mode,
    },
  });
  if (child.pid !== undefined && o.nice !== undefined) setPriority(child.pid, o.nice);
  const next = () => new Promise<unknown>((resolve) => child.once("message", resolve));
  if ((await next()) !== "ready") throw new Error(`the ${o.tag} client did not start`);
  return {
    run: async (s, endAt) => {
      const answer = next();
      child.send({ ...s, endAt });
      return (await answer) as Sent[];
    },
    close: () => {
      if (child.connected) child.send("exit");
    },
  };
}

/** Nearest-rank percentile. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}
