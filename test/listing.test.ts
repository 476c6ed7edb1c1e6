import { status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  DiagnosisKind as K,
  type ListHostDiagnosesRequest,
  CrawlerAlertReason as R,
} from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { type FetchRecord, HttpProtocol } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call, callError } from "./support/client.js";
import { requestId } from "./support/records.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { coalesced, JUNE, own, unreported } from "./support/traffic.js";

let s: TestServer;
const bad = (h: string, n: number, o: Parameters<typeof own>[2] = {}) => own(h, n, { status: 421, ...o });
const withSni = (records: FetchRecord[], sni: string, protocol?: HttpProtocol) =>
  records.map((r) => ({
    ...r,
    protocol: protocol ?? r.protocol,
    connection: r.connection && { ...r.connection, tlsServerName: sni },
  }));

test.before(async () => {
  s = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0" });
  const records: FetchRecord[] = [
    ...bad("vh.shop.example", 5),
    ...bad("vh2.shop.example", 3),
    ...bad("edge.example.org", 4, { address: "192.0.2.1" }),
    ...own("edge.example.org", 3, { address: "192.0.2.2" }),
    ...coalesced("api.example.org", "www.example.org", 4, { retries: [200, 200, 200, 200] }),
    ...own("api.example.org", 10),
    ...bad("mixed.example.org", 3),
    ...coalesced("mixed.example.org", "www.example.org", 4, { retries: [200, 200, 200, 200] }),
    ...unreported("unknown.example.org", 4),
    // Fixed since June 6: resolved in a June window.
    ...bad("old.example.com", 3),
    ...own("old.example.com", 3, { firstDay: 5 }),
    ...own("www.example.org", 10),
    ...own("badexample.org", 3, { status: 421 }).slice(0, 1),
    // Client artifacts, per reason.
    ...withSni(bad("nosni.example.net", 3), ""),
    ...withSni(bad("ipsni.example.net", 2), "192.0.2.9"),
    ...withSni(bad("h1.example.net", 1), "other.example.net", HttpProtocol.HTTP_PROTOCOL_HTTP1),
    ...coalesced("cert.example.net", "other.example.net", 2).map((r) => ({
      ...r,
      crawler: "fleet-b",
      connection: r.connection && { ...r.connection, certificateCoversHost: false },
    })),
    // Many hosts with one isolated 421 each, for paging.
    ...Array.from({ length: 120 }, (_, i) => bad(`p${String(i).padStart(3, "0")}.paging.example`, 1)).flat(),
  ];
  const res = await call(s.ingest.recordFetches, s.ingest, { requestId: requestId(), records });
  assert.equal(res.rejections, []);
});
test.after(async () => s.close());

const list = (req: Partial<ListHostDiagnosesRequest>) =>
  call(s.diagnosis.listHostDiagnoses, s.diagnosis, {
    window: JUNE,
    kinds: [],
    hostSuffix: "",
    includeResolved: false,
    pageSize: 0,
    pageToken: "",
    ...req,
  });

test("the list is ordered by severity, then more 421s, then host name", async () => {
  const page = await list({ pageSize: 9 });
  assert.equal(
    page.diagnoses.map((d) => [d.host, d.kind]),
    [
      ["mixed.example.org", K.DIAGNOSIS_KIND_MIXED],
      ["vh.shop.example", K.DIAGNOSIS_KIND_VIRTUAL_HOST],
      ["vh2.shop.example", K.DIAGNOSIS_KIND_VIRTUAL_HOST],
      ["edge.example.org", K.DIAGNOSIS_KIND_EDGE_ROUTING],
      ["api.example.org", K.DIAGNOSIS_KIND_CONNECTION_COALESCING],
      ["unknown.example.org", K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE],
      ["badexample.org", K.DIAGNOSIS_KIND_NOT_RECURRING],
      ["p000.paging.example", K.DIAGNOSIS_KIND_NOT_RECURRING],
      ["p001.paging.example", K.DIAGNOSIS_KIND_NOT_RECURRING],
    ],
  );
});

test("by default hosts without counted 421s are left out; asking for the kind brings them", async () => {
  const all = await list({ pageSize: 1000 });
  assert.not.ok(all.diagnoses.some((d) => d.host === "www.example.org" || d.host === "nosni.example.net"));
  const none = await list({ kinds: [K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS], pageSize: 1000 });
  const hosts = none.diagnoses.map((d) => d.host);
  assert.ok(hosts.includes("www.example.org"));
  assert.ok(hosts.includes("nosni.example.net"), "a host with only client artifacts has no counted 421s");
  assert.ok(none.diagnoses.every((d) => d.kind === K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS));
});

test("kinds filter keeps only the kinds asked for", async () => {
  const page = await list({ kinds: [K.DIAGNOSIS_KIND_VIRTUAL_HOST, K.DIAGNOSIS_KIND_EDGE_ROUTING] });
  assert.equal(
    page.diagnoses.map((d) => d.host),
    ["vh.shop.example", "vh2.shop.example", "edge.example.org"],
  );
});

test("host_suffix matches the name and its subdomains, not a longer name", async () => {
  const page = await list({ hostSuffix: "Example.ORG.", pageSize: 100 });
  const hosts = page.diagnoses.map((d) => d.host).sort();
  assert.equal(hosts, ["api.example.org", "edge.example.org", "mixed.example.org", "unknown.example.org"]);
});

test("resolved diagnoses are left out unless include_resolved is set", async () => {
  assert.not.ok((await list({ pageSize: 1000 })).diagnoses.some((d) => d.host === "old.example.com"));
  const page = await list({ hostSuffix: "old.example.com", includeResolved: true });
  assert.equal(
    page.diagnoses.map((d) => [d.host, d.kind, d.resolved]),
    [["old.example.com", K.DIAGNOSIS_KIND_VIRTUAL_HOST, true]],
  );
});

test("paging returns every matching host exactly once, in order", async () => {
  const seen: string[] = [];
  let token = "";
  let pages = 0;
  do {
    const page = await list({ hostSuffix: "paging.example", pageSize: 50, pageToken: token });
    seen.push(...page.diagnoses.map((d) => d.host));
    token = page.nextPageToken;
    pages++;
  } while (token !== "");
  assert.is(pages, 3);
  assert.is(seen.length, 120);
  assert.is(new Set(seen).size, 120);
  assert.equal(seen, [...seen].sort());
});

test("page_size 0 means 50", async () => {
  const page = await list({ hostSuffix: "paging.example" });
  assert.is(page.diagnoses.length, 50);
  assert.ok(page.nextPageToken !== "");
});

test("a negative page_size, an unknown kind, and a bad host_suffix are INVALID_ARGUMENT", async () => {
  const base = { window: JUNE, kinds: [], hostSuffix: "", includeResolved: false, pageSize: 0, pageToken: "" };
  const cases: [ListHostDiagnosesRequest, string][] = [
    [{ ...base, pageSize: -1 }, "page_size"],
    [{ ...base, kinds: [42 as K] }, "kinds"],
    [{ ...base, hostSuffix: "bad suffix" }, "host_suffix"],
  ];
  for (const [req, field] of cases) {
    const err = await callError(s.diagnosis.listHostDiagnoses, s.diagnosis, req);
    assert.is(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, field);
  }
});

test("a malformed page token, or one used with other filters, is INVALID_ARGUMENT", async () => {
  const first = await list({ hostSuffix: "paging.example", pageSize: 10 });
  const req = { window: JUNE, kinds: [], hostSuffix: "", includeResolved: false, pageSize: 10, pageToken: "" };
  const other = await callError(s.diagnosis.listHostDiagnoses, s.diagnosis, { ...req, pageToken: first.nextPageToken });
  assert.is(other.code, status.INVALID_ARGUMENT);
  assert.match(other.details, "page_token");
  const garbage = await callError(s.diagnosis.listHostDiagnoses, s.diagnosis, { ...req, pageToken: "not-a-token" });
  assert.is(garbage.code, status.INVALID_ARGUMENT);
});

test("GetHostDiagnosis of a host never seen is NOT_FOUND", async () => {
  const err = await callError(s.diagnosis.getHostDiagnosis, s.diagnosis, { host: "never.example", window: JUNE });
  assert.is(err.code, status.NOT_FOUND);
});

const alerts = (crawler = "", pageSize = 0, pageToken = "") =>
  call(s.diagnosis.listCrawlerAlerts, s.diagnosis, { window: JUNE, crawler, pageSize, pageToken });

test("crawler alerts count client-artifact 421s per crawler and reason, with hosts and an explanation", async () => {
  const res = await alerts();
  assert.equal(
    res.alerts.map((a) => [a.crawler, a.reason, a.count, a.exampleHosts]),
    [
      ["fleet-a", R.CRAWLER_ALERT_REASON_NO_SNI, 3, ["nosni.example.net"]],
      ["fleet-a", R.CRAWLER_ALERT_REASON_IP_LITERAL_SNI, 2, ["ipsni.example.net"]],
      ["fleet-b", R.CRAWLER_ALERT_REASON_CERTIFICATE_MISMATCH, 2, ["cert.example.net"]],
      ["fleet-a", R.CRAWLER_ALERT_REASON_HTTP1_CROSS_HOST, 1, ["h1.example.net"]],
    ],
  );
  for (const a of res.alerts) {
    assert.ok(a.explanation.length > 20);
    assert.ok(a.firstSeen && a.lastSeen && a.firstSeen <= a.lastSeen);
  }
});

test("crawler alerts filter by crawler and page", async () => {
  const b = await alerts("fleet-b");
  assert.equal(
    b.alerts.map((a) => a.reason),
    [R.CRAWLER_ALERT_REASON_CERTIFICATE_MISMATCH],
  );
  const first = await alerts("", 3);
  assert.is(first.alerts.length, 3);
  const second = await alerts("", 3, first.nextPageToken);
  assert.equal(
    second.alerts.map((a) => a.reason),
    [R.CRAWLER_ALERT_REASON_HTTP1_CROSS_HOST],
  );
  assert.is(second.nextPageToken, "");
});

test("client artifacts are excluded from the host's 421s and counted apart", async () => {
  const { diagnosis } = await call(s.diagnosis.getHostDiagnosis, s.diagnosis, {
    host: "nosni.example.net",
    window: JUNE,
  });
  assert.equal(
    [diagnosis?.kind, diagnosis?.misdirectedCount, diagnosis?.excludedClientSideCount],
    [K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS, 0, 3],
  );
});

test.run();
