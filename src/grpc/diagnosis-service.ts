import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Diagnosis, Window } from "../domain/diagnosis.js";
import type { QueryRunner } from "../domain/queries.js";
import type {
  GetHostDiagnosisRequest,
  GetHostDiagnosisResponse,
  GetHostStatsRequest,
  GetHostStatsResponse,
  HostDiagnosis,
  ListCrawlerAlertsRequest,
  ListCrawlerAlertsResponse,
  ListHostDiagnosesRequest,
  ListHostDiagnosesResponse,
  TimeWindow,
} from "../gen/webmasterid/crawldiag/v1/diagnosis.js";
import type { Logger } from "../log.js";
import { unary } from "./unary.js";

export interface DiagnosisDeps {
  /** Runs the queries, on the read worker. */
  queries: QueryRunner;
  now: () => number;
  log: Logger;
}

export function diagnosisService(d: DiagnosisDeps): UntypedServiceImplementation {
  return {
    getHostStats: unary<GetHostStatsRequest, GetHostStatsResponse>("DiagnosisService/GetHostStats", d.log, (req) =>
      d.queries.run("hostStats", req, d.now()),
    ),
    getHostDiagnosis: unary<GetHostDiagnosisRequest, GetHostDiagnosisResponse>(
      "DiagnosisService/GetHostDiagnosis",
      d.log,
      async (req) => ({ diagnosis: toProto(await d.queries.run("hostDiagnosis", req, d.now())) }),
    ),
    listHostDiagnoses: unary<ListHostDiagnosesRequest, ListHostDiagnosesResponse>(
      "DiagnosisService/ListHostDiagnoses",
      d.log,
      async (req) => {
        const page = await d.queries.run("listDiagnoses", req, d.now());
        return { diagnoses: page.diagnoses.map(toProto), nextPageToken: page.nextPageToken };
      },
      (_req, res) => ({ hosts: res?.diagnoses.length ?? 0 }),
    ),
    listCrawlerAlerts: unary<ListCrawlerAlertsRequest, ListCrawlerAlertsResponse>(
      "DiagnosisService/ListCrawlerAlerts",
      d.log,
      (req) => d.queries.run("listAlerts", req, d.now()),
    ),
  };
}

const date = (ms: number | undefined): Date | undefined => (ms === undefined ? undefined : new Date(ms));
const timeWindow = (w: Window): TimeWindow => ({ startTime: new Date(w.startMs), endTime: new Date(w.endMs) });

function toProto(d: Diagnosis): HostDiagnosis {
  const { window, firstSeenMs, lastSeenMs, ...rest } = d;
  return { ...rest, window: timeWindow(window), firstSeen: date(firstSeenMs), lastSeen: date(lastSeenMs) };
}
