import { test } from "uvu";
import * as assert from "uvu/assert";
import { diagnosisKindToJSON, DiagnosisKind as K } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import type { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call } from "./support/client.js";
import { requestId } from "./support/records.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { coalesced, JUNE, own, unreported } from "./support/traffic.js";

// Each [J] threshold of diagnosis-rules.md, just below and at its value, and each rule order, through the real
// server: records in, GetHostDiagnosis out.
let s: TestServer;
test.before(async () => {
  s = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0" });
});
test.after(async () => s.close());

let hosts = 0;
async function diagnose(build: (host: string) => FetchRecord[], window: { startTime: Date; endTime: Date } = JUNE) {
  const host = `b${++hosts}.example.com`;
  const res = await call(s.ingest.recordFetches, s.ingest, { requestId: requestId(), records: build(host) });
  assert.equal(res.rejections, []);
  const { diagnosis } = await call(s.diagnosis.getHostDiagnosis, s.diagnosis, { host, window });
  assert.ok(diagnosis);
  return diagnosis;
}

const ok = (h: string, n: number, address?: string) => own(h, n, { status: 200, address });
const bad = (h: string, n: number, o: Parameters<typeof own>[2] = {}) => own(h, n, { status: 421, ...o });
const peer = "peer.example.com";

const cases: [string, K, (h: string) => FetchRecord[]][] = [
  ["2 421s are not recurring", K.DIAGNOSIS_KIND_NOT_RECURRING, (h) => [...bad(h, 2), ...ok(h, 10)]],
  ["3 421s on 2 days and 3 connections recur", K.DIAGNOSIS_KIND_VIRTUAL_HOST, (h) => [...bad(h, 3), ...ok(h, 10)]],
  [
    "3 421s on 1 day are not recurring",
    K.DIAGNOSIS_KIND_NOT_RECURRING,
    (h) => [...bad(h, 3, { days: 1 }), ...ok(h, 10)],
  ],
  [
    "3 421s on 1 connection are not recurring",
    K.DIAGNOSIS_KIND_NOT_RECURRING,
    (h) => [...bad(h, 3, { oneConnection: true }), ...ok(h, 10)],
  ],
  [
    "2 known of 4 421s is insufficient",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => [...bad(h, 2), ...unreported(h, 2)],
  ],
  ["3 known of 4 421s decides", K.DIAGNOSIS_KIND_VIRTUAL_HOST, (h) => [...bad(h, 3), ...unreported(h, 1)]],
  [
    "3 known of 7 421s (below half) is insufficient",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => [...bad(h, 3), ...unreported(h, 4)],
  ],
  ["3 known of 6 421s (half) decides", K.DIAGNOSIS_KIND_VIRTUAL_HOST, (h) => [...bad(h, 3), ...unreported(h, 3)]],
  [
    "coalesced 4 of 5 known (0.8) is coalescing",
    K.DIAGNOSIS_KIND_CONNECTION_COALESCING,
    (h) => [...coalesced(h, peer, 4, { retries: [200, 200, 200, 200] }), ...bad(h, 1), ...ok(h, 99)],
  ],
  [
    "coalesced 3 of 4 known (0.75) is not",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => [...coalesced(h, peer, 3, { retries: [200, 200, 200] }), ...bad(h, 1), ...ok(h, 99)],
  ],
  [
    "2 own 421s in 100 own fetches (0.02) are clean",
    K.DIAGNOSIS_KIND_CONNECTION_COALESCING,
    (h) => [...coalesced(h, peer, 10, { retries: Array(10).fill(200) }), ...bad(h, 2, { days: 1 }), ...ok(h, 88)],
  ],
  [
    "2 own 421s in 99 own fetches are not clean",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => [...coalesced(h, peer, 10, { retries: Array(10).fill(200) }), ...bad(h, 2, { days: 1 }), ...ok(h, 87)],
  ],
  [
    "1 retried coalesced 421 falls back to the own-traffic test",
    K.DIAGNOSIS_KIND_CONNECTION_COALESCING,
    (h) => [...coalesced(h, peer, 4, { retries: [421] }), ...ok(h, 20)],
  ],
  [
    "2 retried coalesced 421s make the retry test, which 1 of 2 recovered fails",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => [...coalesced(h, peer, 4, { retries: [421, 200] }), ...ok(h, 20)],
  ],
  [
    "9 of 10 retries recovered (0.9) passes the retry test",
    K.DIAGNOSIS_KIND_CONNECTION_COALESCING,
    (h) => [...coalesced(h, peer, 10, { retries: [...Array(9).fill(200), 421] }), ...ok(h, 90)],
  ],
  [
    "8 of 10 retries recovered fails it",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => [...coalesced(h, peer, 10, { retries: [...Array(8).fill(200), 421, 421] }), ...ok(h, 90)],
  ],
  [
    "without retries, 1 own 421 in 20 own fetches (0.05) shows the host answers",
    K.DIAGNOSIS_KIND_CONNECTION_COALESCING,
    (h) => [...coalesced(h, peer, 4), ...bad(h, 1), ...ok(h, 19)],
  ],
  [
    "without retries, 1 own 421 in 19 own fetches does not",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => [...coalesced(h, peer, 4), ...bad(h, 1), ...ok(h, 18)],
  ],
  [
    "without retries and without own traffic coalescing cannot be shown",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => coalesced(h, peer, 3),
  ],
  [
    "a clean address with 2 own fetches is assessed: edge routing",
    K.DIAGNOSIS_KIND_EDGE_ROUTING,
    (h) => [...bad(h, 4, { address: "192.0.2.1" }), ...ok(h, 2, "192.0.2.2")],
  ],
  [
    "a clean address with 1 own fetch is not assessed: virtual host",
    K.DIAGNOSIS_KIND_VIRTUAL_HOST,
    (h) => [...bad(h, 4, { address: "192.0.2.1" }), ...ok(h, 1, "192.0.2.2")],
  ],
  [
    "an address at r = 0.5 is affected: edge routing",
    K.DIAGNOSIS_KIND_EDGE_ROUTING,
    (h) => [...bad(h, 3, { address: "192.0.2.1" }), ...ok(h, 3, "192.0.2.1"), ...ok(h, 20, "192.0.2.2")],
  ],
  [
    "no address at r >= 0.5 (3 of 7): virtual host",
    K.DIAGNOSIS_KIND_VIRTUAL_HOST,
    (h) => [...bad(h, 3, { address: "192.0.2.1" }), ...ok(h, 4, "192.0.2.1"), ...ok(h, 20, "192.0.2.2")],
  ],
  [
    "another address at r = 0.05 is clean: edge routing",
    K.DIAGNOSIS_KIND_EDGE_ROUTING,
    (h) => [...bad(h, 4, { address: "192.0.2.1" }), ...bad(h, 1, { address: "192.0.2.2" }), ...ok(h, 19, "192.0.2.2")],
  ],
  [
    "another address at r = 1/19 is not clean: virtual host",
    K.DIAGNOSIS_KIND_VIRTUAL_HOST,
    (h) => [...bad(h, 4, { address: "192.0.2.1" }), ...bad(h, 1, { address: "192.0.2.2" }), ...ok(h, 18, "192.0.2.2")],
  ],
  // Rule order: the first rule that applies decides.
  [
    "recurring own 421s and recurring recovered coalesced 421s are MIXED",
    K.DIAGNOSIS_KIND_MIXED,
    (h) => [...bad(h, 3), ...coalesced(h, peer, 4, { retries: [200, 200, 200, 200] }), ...ok(h, 20)],
  ],
  [
    "recurring own 421s with coalesced ones that did not recover are VIRTUAL_HOST",
    K.DIAGNOSIS_KIND_VIRTUAL_HOST,
    (h) => [...bad(h, 3), ...coalesced(h, peer, 4, { retries: [421, 421, 421, 421] })],
  ],
  [
    "too few known 421s beats clear coalescing",
    K.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
    (h) => [...coalesced(h, peer, 3, { retries: [200, 200, 200] }), ...unreported(h, 4), ...ok(h, 20)],
  ],
  ["not recurring beats insufficient evidence", K.DIAGNOSIS_KIND_NOT_RECURRING, (h) => unreported(h, 2)],
  [
    "client artifacts alone are NO_MISDIRECTED_REQUESTS",
    K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS,
    (h) => [
      ...own(h, 4, { status: 421 }).map((r) => ({
        ...r,
        connection: r.connection && { ...r.connection, tlsServerName: "" },
      })),
      ...ok(h, 3),
    ],
  ],
];

for (const [name, kind, build] of cases) {
  test(`${name}`, async () => {
    const d = await diagnose(build);
    assert.is(diagnosisKindToJSON(d.kind), diagnosisKindToJSON(kind));
  });
}

test("edge routing names the affected address and only it", async () => {
  const d = await diagnose((h) => [...bad(h, 4, { address: "192.0.2.1" }), ...ok(h, 2, "192.0.2.2")]);
  assert.equal(
    d.addresses.map((a) => [a.address, a.ownFetchCount, a.ownMisdirectedCount, a.affected]),
    [
      ["192.0.2.1", 4, 4, true],
      ["192.0.2.2", 2, 0, false],
    ],
  );
});

test("coalescing names the peer host, the retries, and a summary and remediation", async () => {
  const d = await diagnose((h) => [...coalesced(h, peer, 4, { retries: [200, 200, 200, 200] }), ...ok(h, 30)]);
  assert.equal(d.coalescedFrom, [{ host: peer, misdirectedCount: 4 }]);
  assert.equal([d.retriedCount, d.retryRecoveredCount, d.coalescedMisdirectedCount], [4, 4, 4]);
  assert.match(d.summary, "4");
  assert.match(d.remediation, /ORIGIN/);
});

test("a problem whose last 421 is more than 7 days before the window's end, answered since, is resolved", async () => {
  const build = (h: string) => [
    ...bad(h, 3),
    ...ok(h, 5, undefined).map((r, i) => ({ ...r, fetchedAt: new Date(Date.UTC(2026, 5, 6, i)) })),
  ];
  // The last 421 is on June 2 at 10:00:02; windows are whole hours.
  const start = JUNE.startTime;
  const at7days = await diagnose(build, { startTime: start, endTime: new Date(Date.UTC(2026, 5, 9, 10)) });
  assert.is(at7days.resolved, false);
  const after = await diagnose(build, { startTime: start, endTime: new Date(Date.UTC(2026, 5, 9, 11)) });
  assert.is(after.kind, K.DIAGNOSIS_KIND_VIRTUAL_HOST);
  assert.is(after.resolved, true);
});

test("a host that never answered since its last 421 is not resolved", async () => {
  const d = await diagnose((h) => [...bad(h, 3), ...ok(h, 5)]);
  assert.is(d.resolved, false, "its own 200s came before the 421s ended");
});

test("insufficient evidence names the fields the crawler should report", async () => {
  const d = await diagnose((h) => [...bad(h, 2), ...unreported(h, 2)]);
  assert.equal(d.missingFields, ["protocol", "connection.tls_server_name"]);
});

test("thresholds from CRAWLDIAG_RULES change the verdict", async () => {
  const strict = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0", CRAWLDIAG_RULES: '{"recurringMinCount": 4}' });
  try {
    const records = [...bad("rules.example.com", 3), ...ok("rules.example.com", 10)];
    await call(strict.ingest.recordFetches, strict.ingest, { requestId: requestId(), records });
    const { diagnosis } = await call(strict.diagnosis.getHostDiagnosis, strict.diagnosis, {
      host: "rules.example.com",
      window: JUNE,
    });
    assert.is(diagnosis?.kind, K.DIAGNOSIS_KIND_NOT_RECURRING);
  } finally {
    await strict.close();
  }
});

test.run();
