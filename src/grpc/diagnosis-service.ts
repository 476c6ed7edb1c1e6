import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { listAlerts } from "../domain/alerts.js";
import type { Diagnosis, Window } from "../domain/diagnosis.js";
import { hostDiagnosis, listDiagnoses } from "../domain/listing.js";
import type { ReadStore } from "../domain/read-store.js";
import { hostStats } from "../domain/stats.js";
import type { Thresholds } from "../domain/thresholds.js";
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
  store: ReadStore;
  rules: Thresholds;
  now: () => number;
  log: Logger;
}

export function diagnosisService(d: DiagnosisDeps): UntypedServiceImplementation {
  const days = d.rules.defaultWindowDays;
  return {
    getHostStats: unary<GetHostStatsRequest, GetHostStatsResponse>("DiagnosisService/GetHostStats", d.log, (req) =>
      hostStats(d.store, req, d.now(), days),
    ),
    getHostDiagnosis: unary<GetHostDiagnosisRequest, GetHostDiagnosisResponse>(
      "DiagnosisService/GetHostDiagnosis",
      d.log,
      (req) => ({ diagnosis: toProto(hostDiagnosis(d.store, req.host, req.window, d.now(), d.rules)) }),
    ),
    listHostDiagnoses: unary<ListHostDiagnosesRequest, ListHostDiagnosesResponse>(
      "DiagnosisService/ListHostDiagnoses",
      d.log,
      (req) => {
        const page = listDiagnoses(d.store, req, d.now(), d.rules);
        return { diagnoses: page.diagnoses.map(toProto), nextPageToken: page.nextPageToken };
      },
      (_req, res) => ({ hosts: res?.diagnoses.length ?? 0 }),
    ),
    listCrawlerAlerts: unary<ListCrawlerAlertsRequest, ListCrawlerAlertsResponse>(
      "DiagnosisService/ListCrawlerAlerts",
      d.log,
      (req) => listAlerts(d.store, req, d.now(), days),
    ),
  };
}

const date = (ms: number | undefined): Date | undefined => (ms === undefined ? undefined : new Date(ms));
const timeWindow = (w: Window): TimeWindow => ({ startTime: new Date(w.startMs), endTime: new Date(w.endMs) });

function toProto(d: Diagnosis): HostDiagnosis {
  const { window, firstSeenMs, lastSeenMs, ...rest } = d;
  return { ...rest, window: timeWindow(window), firstSeen: date(firstSeenMs), lastSeen: date(lastSeenMs) };
}
