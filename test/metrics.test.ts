import { status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, readConfig } from "../src/config.js";
import { GetHostDiagnosisRequest, GetHostStatsRequest } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { call, callError } from "./support/client.js";
import { healthCheck } from "./support/health.js";
import { type Scrape, scrape, typeOf, value } from "./support/metrics.js";
import { record, requestId } from "./support/records.js";
import { startTestServer, type TestServer } from "./support/server.js";

const INGEST = { grpc_service: "webmasterid.crawldiag.v1.IngestService", grpc_method: "RecordFetches" };
const DIAGNOSIS = "webmasterid.crawldiag.v1.DiagnosisService";
const HOST = "metrics-host.example.com";
const QUOTA_MB = 64;

let s: TestServer;
let before: Scrape;
let after: Scrape;

test.before(async () => {
  s = await startTestServer({ CRAWLDIAG_METRICS_ADDRESS: "127.0.0.1:0", CRAWLDIAG_MAX_DB_MB: String(QUOTA_MB) });
  if (s.metricsPort === undefined) throw new Error("the metrics listener did not start");
  before = await scrape(s.metricsPort);
  const url = `https://${HOST}/path?q=1`;
  const batch = {
    requestId: requestId("metrics"),
    records: [
      record({ url, crawler: "fleet-a", statusCode: 421 }),
      record({ url, crawler: "fleet-a" }),
      record({ url, crawler: "fleet-a" }),
      record({ url, crawler: "fleet-a", statusCode: 99 }),
      record({ url, crawler: "not a crawler id!" }),
      record({ url, crawler: "fleet-b" }),
    ],
  };
  const first = await call(s.ingest.recordFetches, s.ingest, batch);
  assert.is(first.acceptedCount, 4);
  const again = await call(s.ingest.recordFetches, s.ingest, batch);
  assert.ok(again.replayed);
  await call(s.diagnosis.getHostStats, s.diagnosis, GetHostStatsRequest.fromJSON({ host: HOST }));
  const missing = await callError(
    s.diagnosis.getHostDiagnosis,
    s.diagnosis,
    GetHostDiagnosisRequest.fromJSON({ host: "never-seen.example.com" }),
  );
  assert.is(missing.code, status.NOT_FOUND);
  assert.is(await healthCheck(s.ingest, ""), "SERVING");
  after = await scrape(s.metricsPort);
});

test.after(async () => {
  await s.close();
});

test("/metrics is the Prometheus text format; other paths are 404", async () => {
  assert.match(after.contentType, /^text\/plain; version=0\.0\.4/);
  assert.ok(after.families.length > 10);
  const other = await fetch(`http://127.0.0.1:${s.metricsPort}/`);
  assert.is(other.status, 404);
  await other.text();
});

test("every call is counted and timed by service, method and status code, as go-grpc-prometheus names them", () => {
  const ok = { ...INGEST, grpc_code: "OK", grpc_type: "unary" };
  assert.is(value(after, "grpc_server_handled_total", ok), 2);
  assert.is(value(after, "grpc_server_started_total", INGEST), 2);
  assert.is(value(after, "grpc_server_handling_seconds_count", ok), 2);
  assert.ok(value(after, "grpc_server_handling_seconds_sum", ok) > 0);
  assert.is(value(after, "grpc_server_handling_seconds_bucket", { ...ok, le: "+Inf" }), 2);
  const notFound = { grpc_service: DIAGNOSIS, grpc_method: "GetHostDiagnosis", grpc_code: "NOT_FOUND" };
  assert.is(value(after, "grpc_server_handled_total", notFound), 1);
  assert.is(value(after, "grpc_server_handled_total", { grpc_service: DIAGNOSIS, grpc_code: "OK" }), 1);
  assert.is(value(after, "grpc_server_handled_total", { grpc_service: "grpc.health.v1.Health", grpc_code: "OK" }), 1);
  assert.is(typeOf(after, "grpc_server_handled_total"), "COUNTER");
  assert.is(typeOf(after, "grpc_server_handling_seconds"), "HISTOGRAM");
});

test("records are counted per crawler: accepted, and rejected by the field at fault; replays separately", () => {
  assert.is(value(after, "crawldiag_ingest_records_accepted_total", { crawler: "fleet-a" }), 3);
  assert.is(value(after, "crawldiag_ingest_records_accepted_total", { crawler: "fleet-b" }), 1);
  assert.is(value(after, "crawldiag_ingest_records_rejected_total", { crawler: "fleet-a", field: "status_code" }), 1);
  // An id that is not a valid crawler id is never a label.
  assert.is(value(after, "crawldiag_ingest_records_rejected_total", { crawler: "(invalid)", field: "crawler" }), 1);
  assert.is(value(after, "crawldiag_ingest_records_accepted_total"), 4, "the replay is not counted again");
  assert.is(value(after, "crawldiag_ingest_batches_replayed_total"), 1);
});

test("the write path is visible: queue depth, group commits, store size against the quota, retention", () => {
  assert.is(value(after, "crawldiag_write_queue_records"), 0);
  assert.is(value(after, "crawldiag_write_queue_capacity_records"), 20_000);
  const groups = value(after, "crawldiag_group_commit_records_count");
  assert.ok(groups >= 1 && groups <= 2, String(groups));
  assert.is(value(after, "crawldiag_group_commit_records_sum"), 12, "two batches of 6 records");
  assert.is(value(after, "crawldiag_group_commit_batches_sum"), 2);
  assert.ok(value(after, "crawldiag_group_commit_seconds_sum") > 0);
  assert.is(typeOf(after, "crawldiag_group_commit_seconds"), "HISTOGRAM");
  assert.ok(value(after, "crawldiag_store_bytes") > 0);
  assert.is(value(after, "crawldiag_store_quota_bytes"), QUOTA_MB * 1024 * 1024);
  assert.is(value(before, "crawldiag_retention_purges_total"), 1, "the purge at start");
  assert.ok(value(after, "process_resident_memory_bytes") > 0);
});

test("no label or value names a host, a URL or an address", () => {
  for (const text of [before.text, after.text]) {
    assert.not.match(text, /example\.com|metrics-host|\/path|127\.0\.0\.1|192\.0\.2/);
  }
});

test("metrics are off unless asked for; a bad address stops start-up naming the variable", () => {
  assert.is(readConfig({ CRAWLDIAG_DB: "unused.db" }).metricsAddress, undefined);
  for (const raw of ["9464", "localhost", "127.0.0.1:99999", "http://127.0.0.1:9464/metrics"]) {
    assert.throws(
      () => readConfig({ CRAWLDIAG_DB: "unused.db", CRAWLDIAG_METRICS_ADDRESS: raw }),
      (e: Error) => e instanceof ConfigError && e.message.startsWith("CRAWLDIAG_METRICS_ADDRESS: "),
      raw,
    );
  }
});

test.run();
