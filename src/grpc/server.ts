import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { IngestStore } from "../domain/ingest.js";
import type { ReadStore } from "../domain/read-store.js";
import type { Thresholds } from "../domain/thresholds.js";
import { DiagnosisServiceService } from "../gen/webmasterid/crawldiag/v1/diagnosis.js";
import type { Logger } from "../log.js";
import { diagnosisService } from "./diagnosis-service.js";
import { ingestDefinition, ingestService } from "./ingest-service.js";
import { addReflection, loadImage } from "./reflection.js";

export const INGEST_SERVICE = "webmasterid.crawldiag.v1.IngestService";
export const DIAGNOSIS_SERVICE = "webmasterid.crawldiag.v1.DiagnosisService";
const SERVED = [INGEST_SERVICE, DIAGNOSIS_SERVICE];
// The largest record the validation lets through is about 3 KiB; leave room for framing.
const MAX_RECORD_BYTES = 3 * 1024;

export interface ServerOptions {
  address: string;
  maxBatch: number;
  retentionDays: number;
  rules: Thresholds;
  writer: IngestStore;
  reader: ReadStore;
  log: Logger;
  now?: () => number;
}

export interface RunningServer {
  port: number;
  /** Marks every service NOT_SERVING, lets in-flight calls finish for up to graceMs, then stops. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const now = o.now ?? Date.now;
  const server = new Server({
    "grpc.max_receive_message_length": o.maxBatch * MAX_RECORD_BYTES + 64 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
  server.addService(
    ingestDefinition,
    ingestService({ store: o.writer, maxBatch: o.maxBatch, retentionDays: o.retentionDays, now, log: o.log }),
  );
  server.addService(DiagnosisServiceService, diagnosisService({ store: o.reader, rules: o.rules, now, log: o.log }));
  const health = new HealthImplementation(Object.fromEntries(["", ...SERVED].map((s) => [s, "SERVING"])));
  health.addToServer(server);
  addReflection(server, loadImage(), [...SERVED, "grpc.health.v1.Health"]);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    shutdown: (graceMs) => {
      for (const s of ["", ...SERVED]) health.setStatus(s, "NOT_SERVING");
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
