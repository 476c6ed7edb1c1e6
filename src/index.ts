// The package entry for crawler fleets: the reporter, the probe, and the generated types they exchange.
// Nothing here loads the server or its SQLite store.
export { type ConnectOptions, DEFAULT_ADDRESS } from "./client/channel.js";
export {
  createReporter,
  type RejectedRecord,
  type ReportedFetch,
  type Reporter,
  type ReporterOptions,
  type ReporterStats,
} from "./client/reporter.js";
export { BatchError, DEFAULT_RETRY, type RetryPolicy } from "./client/send.js";
export {
  AddressStat,
  Confidence,
  CrawlerAlert,
  CrawlerAlertReason,
  DiagnosisKind,
  DiagnosisServiceClient,
  HostDiagnosis,
  PeerHost,
} from "./gen/webmasterid/crawldiag/v1/diagnosis.js";
export { ConnectionInfo, FetchRecord, HttpProtocol } from "./gen/webmasterid/crawldiag/v1/fetch.js";
export {
  IngestServiceClient,
  RecordFetchesRequest,
  RecordFetchesResponse,
  RecordRejection,
} from "./gen/webmasterid/crawldiag/v1/ingest.js";
export { DEFAULT_CRAWLER, type ProbeFetch, type ProbeOptions, probe } from "./probe/probe.js";
export type { LookupFunction } from "./probe/resolve.js";
