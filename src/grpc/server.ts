import { Server, type ServerCredentials, type ServerInterceptor } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Backend } from "../backend.js";
import type { AuthTable } from "../domain/auth.js";
import type { IngestSink } from "../domain/ingest.js";
import type { QueryRunner } from "../domain/queries.js";
import type { ClientBudgets } from "../domain/token-bucket.js";
import { DiagnosisServiceService } from "../gen/webmasterid/crawldiag/v1/diagnosis.js";
import { StatusServiceService } from "../gen/webmasterid/crawldiag/v1/status.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import { diagnosisService } from "./diagnosis-service.js";
import { decodeSafely, guard, type ServicePolicy } from "./guard.js";
import { ingestDefinition, ingestService } from "./ingest-service.js";
import { observeCalls } from "./observe.js";
import { addReflection, loadImage } from "./reflection.js";
import { statusService } from "./status-service.js";
import { insecureCredentials } from "./tls.js";

export const INGEST_SERVICE = "webmasterid.crawldiag.v1.IngestService";
export const DIAGNOSIS_SERVICE = "webmasterid.crawldiag.v1.DiagnosisService";
export const STATUS_SERVICE = "webmasterid.crawldiag.v1.StatusService";
// The largest record the validation lets through is about 3 KiB; leave room for framing.
const MAX_RECORD_BYTES = 3 * 1024;
// Who may call what when an auth file is configured; health and reflection stay open for probes and tools.
const POLICY: ServicePolicy = {
  [INGEST_SERVICE]: "ingest",
  [DIAGNOSIS_SERVICE]: "read",
  [STATUS_SERVICE]: "read",
  "grpc.health.v1.Health": "open",
  "grpc.reflection.v1.ServerReflection": "open",
  "grpc.reflection.v1alpha.ServerReflection": "open",
};
// Connection limits. 100 streams is the least RFC 9113 recommends; idle connections are closed after 5 minutes
// (clients reconnect on their own); a ping every 2 minutes finds peers that vanished without closing.
const LIMITS = {
  "grpc.max_concurrent_streams": 100,
  "grpc.max_connection_idle_ms": 5 * 60_000,
  "grpc.keepalive_time_ms": 2 * 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
} as const;

export interface ServerOptions {
  address: string;
  maxBatch: number;
  /** Where received batches go to be decoded, validated and committed; absent = IngestService not served here. */
  writer: IngestSink | undefined;
  /** Answers the queries; absent = DiagnosisService not served here. */
  queries: QueryRunner | undefined;
  /** What StatusService reports; absent = not served. */
  status?: Pick<Backend, "status"> | undefined;
  log: Logger;
  now?: () => number;
  /** The current auth table; absent = no authentication. */
  auth?: (() => AuthTable) | undefined;
  /** TLS credentials (see tls.ts); absent = plaintext. */
  credentials?: ServerCredentials | undefined;
  /** Counts and times every call; absent = not measured. */
  metrics?: Metrics | undefined;
  /** Fair sharing of ingest between clients; absent = no limit. */
  budgets?: ClientBudgets | undefined;
}

export interface RunningServer {
  port: number;
  /** Reports a served service as SERVING or NOT_SERVING (its backing system answers, or not). */
  setServing(service: string, serving: boolean): void;
  /** Marks every service NOT_SERVING, lets in-flight calls finish for up to graceMs, then stops. */
  shutdown(graceMs: number): Promise<void>;
}

/** The grpc-js settings of the server (the benchmark's transport-only server uses them too). */
export function serverOptions(maxBatch: number) {
  return {
    "grpc.max_receive_message_length": maxBatch * MAX_RECORD_BYTES + 64 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    ...LIMITS,
  };
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const now = o.now ?? Date.now;
  // The metrics come first, so that they see the calls the guard refuses too.
  const interceptors: ServerInterceptor[] = o.metrics === undefined ? [] : [observeCalls(o.metrics)];
  interceptors.push(guard({ policy: POLICY, auth: o.auth, log: o.log, budgets: o.budgets, metrics: o.metrics }));
  const server = new Server({ ...serverOptions(o.maxBatch), interceptors });
  const served: string[] = [];
  if (o.writer !== undefined) {
    served.push(INGEST_SERVICE);
    const sink = o.writer;
    const deps = { sink, maxBatch: o.maxBatch, now, log: o.log, budgets: o.budgets, metrics: o.metrics };
    server.addService(decodeSafely(ingestDefinition), ingestService(deps));
  }
  if (o.queries !== undefined) {
    served.push(DIAGNOSIS_SERVICE);
    server.addService(decodeSafely(DiagnosisServiceService), diagnosisService({ queries: o.queries, now, log: o.log }));
  }
  if (o.status !== undefined) {
    served.push(STATUS_SERVICE);
    server.addService(decodeSafely(StatusServiceService), statusService(o.status, o.log));
  }
  const health = new HealthImplementation(Object.fromEntries(["", ...served].map((s) => [s, "SERVING"])));
  health.addToServer(server);
  addReflection(server, loadImage(), [
    ...served,
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
  ]);
  // The overall status ("") is SERVING only while every service served here is.
  const down = new Set<string>();
  let stopping = false;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.address, o.credentials ?? insecureCredentials(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    setServing: (service, serving) => {
      if (stopping || !served.includes(service)) return;
      if (serving) down.delete(service);
      else down.add(service);
      health.setStatus(service, serving ? "SERVING" : "NOT_SERVING");
      health.setStatus("", down.size === 0 ? "SERVING" : "NOT_SERVING");
    },
    shutdown: (graceMs) => {
      stopping = true;
      for (const s of ["", ...served]) health.setStatus(s, "NOT_SERVING");
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
