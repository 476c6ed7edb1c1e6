import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  DiagnosisServiceClient,
  type GetHostDiagnosisResponse,
  type ListHostDiagnosesResponse,
  type TimeWindow,
} from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { RecordFetchesResponse } from "../src/gen/webmasterid/crawldiag/v1/ingest.js";
import type { Batch } from "./workload.js";

const RECORD_FETCHES = "/webmasterid.crawldiag.v1.IngestService/RecordFetches";
const DEADLINE_MS = 120_000;

export interface PumpResult {
  records: number;
  accepted: number;
  rejected: number;
  ms: number;
}

/** Sends pre-encoded RecordFetchesRequest bytes: the serializer passes them through untouched. */
export class IngestPump {
  private readonly client: Client;

  constructor(port: number) {
    this.client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), {
      "grpc.max_send_message_length": -1,
    });
  }

  private send(bytes: Buffer): Promise<RecordFetchesResponse> {
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(
        RECORD_FETCHES,
        (b: Buffer) => b,
        (b: Buffer) => RecordFetchesResponse.decode(b),
        bytes,
        new Metadata(),
        { deadline: Date.now() + DEADLINE_MS },
        (err: ServiceError | null, res?: RecordFetchesResponse) => (err || !res ? reject(err) : resolve(res)),
      ),
    );
  }

  /** Sends every batch with `inFlight` calls outstanding; a refused call (queue full) is retried after a pause. */
  async pump(batches: readonly Batch[], inFlight: number): Promise<PumpResult> {
    const started = performance.now();
    let next = 0;
    let accepted = 0;
    let rejected = 0;
    let records = 0;
    const lane = async () => {
      while (next < batches.length) {
        const b = batches[next++] as Batch;
        const res = await this.retrying(b.bytes);
        accepted += res.acceptedCount;
        rejected += res.rejectedCount;
        records += b.records;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return { records, accepted, rejected, ms: performance.now() - started };
  }

  private async retrying(bytes: Buffer): Promise<RecordFetchesResponse> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send(bytes);
      } catch (e) {
        // UNAVAILABLE (14) is the overload answer; anything else is a bench failure.
        if ((e as ServiceError).code !== 14 || attempt > 50) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Latencies of calls with an empty batch: what a round trip through grpc-js costs on this machine. */
  async roundTrips(count: number): Promise<number[]> {
    const empty = Buffer.from([0x0a, 0x03, 0x72, 0x74, 0x74]); // request_id "rtt"
    const ms: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await this.send(empty);
      ms.push(performance.now() - started);
    }
    return ms;
  }

  close(): void {
    this.client.close();
  }
}

/** Query latencies in ms, one call at a time. */
export class Queries {
  private readonly client: DiagnosisServiceClient;

  constructor(port: number) {
    this.client = new DiagnosisServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
    });
  }

  getHostDiagnosis(host: string, window: TimeWindow): Promise<number> {
    const started = performance.now();
    return new Promise((resolve, reject) =>
      this.client.getHostDiagnosis({ host, window }, (err: ServiceError | null, _res: GetHostDiagnosisResponse) =>
        err ? reject(err) : resolve(performance.now() - started),
      ),
    );
  }

  /**
   * The first page of the default listing (hosts with 421s); resolves with the latency and its length. Without a
   * window the server's default applies (the 30 days ending now).
   */
  listPage(window: TimeWindow | undefined, pageSize: number): Promise<{ ms: number; hosts: number }> {
    const started = performance.now();
    const req = { window, kinds: [], hostSuffix: "", includeResolved: false, pageSize, pageToken: "" };
    return new Promise((resolve, reject) =>
      this.client.listHostDiagnoses(req, (err: ServiceError | null, res: ListHostDiagnosesResponse) =>
        err ? reject(err) : resolve({ ms: performance.now() - started, hosts: res.diagnoses.length }),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}
