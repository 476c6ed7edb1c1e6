import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  type status,
} from "@grpc/grpc-js";
import {
  IngestServiceClient,
  IngestServiceService,
  type RecordFetchesRequest,
  type RecordFetchesResponse,
} from "../../src/gen/webmasterid/crawldiag/v1/ingest.js";

/** What the relay does with one call: pass it on, lose the answer, or fail it with a status. */
export type Fault =
  | { kind: "forward" }
  /** Forwards the call, lets the real server commit it, and never answers: the answer is lost in transit. */
  | { kind: "lose-answer" }
  | { kind: "fail"; code: status; retryDelayMs?: number };

export interface RelayCall {
  requestId: string;
  records: number;
  authorization: string | undefined;
  atMs: number;
}

export interface Relay {
  port: number;
  calls: RelayCall[];
  /** Resolves once `n` calls have arrived. */
  received(n: number): Promise<void>;
  /** Lets held calls through (see `hold`). */
  open(): void;
  close(): Promise<void>;
}

/**
 * A real gRPC server in front of a real crawldiag server, injecting the transport faults a reporter must
 * survive: lost answers, UNAVAILABLE with a RetryInfo delay, calls held up. `fault(n)` decides call n (from 1).
 * With `hold`, every call waits for open() before it goes on.
 */
export async function startRelay(targetPort: number, fault: (n: number) => Fault, hold = false): Promise<Relay> {
  const upstream = new IngestServiceClient(`127.0.0.1:${targetPort}`, credentials.createInsecure());
  const calls: RelayCall[] = [];
  const arrivals: { n: number; done: () => void }[] = [];
  let opened = !hold;
  const gate: (() => void)[] = [];
  const server = new Server();
  server.addService(IngestServiceService, {
    recordFetches: async (
      call: ServerUnaryCall<RecordFetchesRequest, RecordFetchesResponse>,
      cb: sendUnaryData<RecordFetchesResponse>,
    ) => {
      const auth = call.metadata.get("authorization")[0];
      calls.push({
        requestId: call.request.requestId,
        records: call.request.records.length,
        authorization: typeof auth === "string" ? auth : undefined,
        atMs: performance.now(),
      });
      for (const a of arrivals.filter((x) => calls.length >= x.n)) a.done();
      if (!opened) await new Promise<void>((resolve) => gate.push(resolve));
      const f = fault(calls.length);
      if (f.kind === "fail") {
        const metadata = new Metadata();
        if (f.retryDelayMs !== undefined)
          metadata.set("grpc-status-details-bin", retryInfoStatus(f.code, f.retryDelayMs));
        cb({ code: f.code, details: "injected by the test relay", metadata });
        return;
      }
      upstream.recordFetches(call.request, (err, res) => {
        if (f.kind === "forward") cb(err, res);
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    calls,
    received: (n) => (calls.length >= n ? Promise.resolve() : new Promise((done) => arrivals.push({ n, done }))),
    open: () => {
      opened = true;
      for (const g of gate.splice(0)) g();
    },
    close: () => {
      upstream.close();
      server.forceShutdown();
      return Promise.resolve();
    },
  };
}

/** google.rpc.Status{code, message, details: [Any{RetryInfo{retry_delay}}]}, encoded by hand like a server would. */
export function retryInfoStatus(code: number, delayMs: number): Buffer {
  const duration = new BinaryWriter()
    .tag(1, 0)
    .int64(Math.floor(delayMs / 1000))
    .tag(2, 0)
    .int32((delayMs % 1000) * 1e6)
    .finish();
  const retryInfo = new BinaryWriter().tag(1, 2).bytes(duration).finish();
  const any = new BinaryWriter()
    .tag(1, 2)
    .string("type.googleapis.com/google.rpc.RetryInfo")
    .tag(2, 2)
    .bytes(retryInfo)
    .finish();
  const st = new BinaryWriter().tag(1, 0).int32(code).tag(2, 2).string("retry later").tag(3, 2).bytes(any).finish();
  return Buffer.from(st);
}
