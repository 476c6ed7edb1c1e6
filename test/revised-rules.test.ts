import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  diagnosisKindToJSON,
  DiagnosisKind as K,
  CrawlerAlertReason as R,
} from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { type FetchRecord, HttpProtocol } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call } from "./support/client.js";
import { requestId } from "./support/records.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { coalesced, JUNE, own } from "./support/traffic.js";

// The rules' revision after the field trial (trailing-dot SNI, rule 5a "serves", rule 7 COALESCING_REFUSED and
// the new evidence), each threshold just below and at its value, through the real server.
let s: TestServer;
test.before(async () => {
  s = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0" });
});
test.after(async () => s.close());

let hosts = 0;
async function diagnose(build: (host: string) => FetchRecord[]) {
  const host = `r${++hosts}.example.com`;
  const res = await call(s.ingest.recordFetches, s.ingest, { requestId: requestId(), records: build(host) });
  assert.equal(res.rejections, []);
  const { diagnosis } = await call(s.diagnosis.getHostDiagnosis, s.diagnosis, { host, window: JUNE });
  assert.ok(diagnosis);
  return diagnosis;
}

const A = "192.0.2.1";
const B = "192.0.2.2";
const peer = "www.example.com";
const ok = (h: string, n: number, address = A) => own(h, n, { status: 200, address });
const bad = (h: string, n: number, address = A) => own(h, n, { status: 421, address });
/** Answers at `address` only over connections opened for the peer (a browser-like crawler pooling). */
const pooled = (h: string, n: number, address = B, status = 200) => coalesced(h, peer, n, { status, address });
const withSni = (records: FetchRecord[], sni: string, protocol?: HttpProtocol) =>
  records.map((r) => ({
    ...r,
    protocol: protocol ?? r.protocol,
    connection: r.connection && { ...r.connection, tlsServerName: sni },
  }));

const cases: [string, K, (h: string) => FetchRecord[]][] = [
  // Rule 5a: another address serves the host when it gave >= 2 non-421 answers on any connection.
  [
    "one pooled answer at another address does not serve: virtual host",
    K.DIAGNOSIS_KIND_VIRTUAL_HOST,
    (h) => [...bad(h, 4), ...pooled(h, 1)],
  ],
  [
    "two pooled answers at another address serve: edge routing",
    K.DIAGNOSIS_KIND_EDGE_ROUTING,
    (h) => [...bad(h, 4), ...pooled(h, 2)],
  ],
  [
    "an assessed address at r = 1/19 does not serve, whatever it answered pooled: virtual host",
    K.DIAGNOSIS_KIND_VIRTUAL_HOST,
    (h) => [...bad(h, 4), ...bad(h, 1, B), ...ok(h, 18, B), ...pooled(h, 5)],
  ],
  [
    "an assessed address at r = 0.05 serves: edge routing",
    K.DIAGNOSIS_KIND_EDGE_ROUTING,
    (h) => [...bad(h, 4), ...bad(h, 1, B), ...ok(h, 19, B)],
  ],
  // Trailing-dot SNI: a 421 with it is the crawler's; any other answer is the host's own traffic.
  [
    "421s whose SNI ends with a dot are client artifacts",
    K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS,
    (h) => [...withSni(bad(h, 4), `${h}.`), ...ok(h, 3)],
  ],
  [
    "answers other than 421 with a dotted SNI still count as own traffic (coalescing shown by own traffic)",
    K.DIAGNOSIS_KIND_CONNECTION_COALESCING,
    (h) => [...coalesced(h, peer, 4), ...withSni(ok(h, 20), `${h}.`)],
  ],
  // Rule 7: refusals.
  [
    "2 coalesced 403s are not recurring",
    K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS,
    (h) => [...pooled(h, 2, A, 403), ...ok(h, 20)],
  ],
  [
    "3 coalesced 403s on 2 days and 3 connections, own traffic clean: coalescing refused",
    K.DIAGNOSIS_KIND_COALESCING_REFUSED,
    (h) => [...pooled(h, 3, A, 403), ...ok(h, 20)],
  ],
  [
    "coalesced 400s are refusals too",
    K.DIAGNOSIS_KIND_COALESCING_REFUSED,
    (h) => [...pooled(h, 3, A, 400), ...ok(h, 20)],
  ],
  [
    "1 own 403 in 20 own fetches (0.05) still shows the host answers",
    K.DIAGNOSIS_KIND_COALESCING_REFUSED,
    (h) => [...pooled(h, 3, A, 403), ...own(h, 1, { status: 403 }), ...ok(h, 19)],
  ],
  [
    "1 own 403 in 19 own fetches: the 403 may be the page's, not a refusal",
    K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS,
    (h) => [...pooled(h, 3, A, 403), ...own(h, 1, { status: 403 }), ...ok(h, 18)],
  ],
  [
    "without own traffic and without retries a refusal cannot be shown",
    K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS,
    (h) => pooled(h, 3, A, 403),
  ],
  [
    "9 of 10 refusals recovered on retry passes the retry test",
    K.DIAGNOSIS_KIND_COALESCING_REFUSED,
    (h) => coalesced(h, peer, 10, { status: 403, retries: [...Array(9).fill(200), 403] }),
  ],
  [
    "8 of 10 recovered fails it (a retry answered 400 or 403 did not recover)",
    K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS,
    (h) => coalesced(h, peer, 10, { status: 403, retries: [...Array(8).fill(200), 400, 403] }),
  ],
  [
    "refused 403s with a certificate that does not cover the host are not refusals",
    K.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS,
    (h) =>
      [...pooled(h, 3, A, 403), ...ok(h, 20)].map((r) =>
        r.statusCode === 403
          ? { ...r, connection: r.connection && { ...r.connection, certificateCoversHost: false } }
          : r,
      ),
  ],
  [
    "refusals do not override a recurring virtual-host finding (rule 7 comes after 1-6)",
    K.DIAGNOSIS_KIND_VIRTUAL_HOST,
    (h) => [...bad(h, 3), ...pooled(h, 3, A, 403)],
  ],
  [
    "refusals do decide where the 421s are not recurring",
    K.DIAGNOSIS_KIND_COALESCING_REFUSED,
    (h) => [...bad(h, 2), ...pooled(h, 3, A, 403), ...ok(h, 40)],
  ],
];

for (const [name, kind, build] of cases) {
  test(name, async () => {
    const d = await diagnose(build);
    assert.is(diagnosisKindToJSON(d.kind), diagnosisKindToJSON(kind));
  });
}

test("every address that is assessed or serves is listed, with its answers on any connection", async () => {
  const d = await diagnose((h) => [...bad(h, 4), ...ok(h, 1), ...pooled(h, 3), ...pooled(h, 1, "192.0.2.3")]);
  assert.equal(
    d.addresses.map((a) => [a.address, a.ownFetchCount, a.ownMisdirectedCount, a.answeredCount, a.affected]),
    [
      [A, 5, 4, 1, true],
      [B, 0, 0, 3, false],
    ],
  );
});

test("the retries of own-connection 421s are counted apart from the coalesced ones", async () => {
  const retried = (h: string) => coalesced(h, h, 4, { retries: [421, 421, 421, 200] });
  const d = await diagnose((h) => retried(h));
  assert.is(diagnosisKindToJSON(d.kind), diagnosisKindToJSON(K.DIAGNOSIS_KIND_VIRTUAL_HOST));
  assert.equal([d.ownRetriedCount, d.ownRetryRecoveredCount, d.retriedCount], [4, 1, 0]);
});

test("coalescing refused carries its own evidence: refusals, statuses, peers, retries, and a fix", async () => {
  const d = await diagnose((h) => [
    ...coalesced(h, peer, 3, { status: 403, retries: [200, 200, 200] }),
    ...coalesced(h, "shop.example.com", 1, { status: 400 }),
  ]);
  assert.is(diagnosisKindToJSON(d.kind), diagnosisKindToJSON(K.DIAGNOSIS_KIND_COALESCING_REFUSED));
  assert.equal([d.misdirectedCount, d.refusedCount, d.refusedStatuses], [0, 4, [400, 403]]);
  assert.equal(d.coalescedFrom, [
    { host: peer, misdirectedCount: 3 },
    { host: "shop.example.com", misdirectedCount: 1 },
  ]);
  assert.equal([d.retriedCount, d.retryRecoveredCount, d.distinctDays], [3, 3, 2]);
  assert.is(d.confidence, 3, "the retry test held: HIGH");
  assert.match(d.summary, /refused 4 requests with 400 and 403/);
  assert.match(d.remediation, /answer 421 Misdirected Request/);
});

test("the list puts coalescing refused after edge routing and before connection coalescing", async () => {
  const names: string[] = [];
  for (const build of [
    (h: string) => coalesced(h, peer, 4, { retries: [200, 200, 200, 200] }),
    (h: string) => [...bad(h, 4), ...pooled(h, 2)],
    (h: string) => [...pooled(h, 3, A, 403), ...ok(h, 20)],
  ]) {
    names.push((await diagnose(build)).host);
  }
  const res = await call(s.diagnosis.listHostDiagnoses, s.diagnosis, {
    window: JUNE,
    kinds: [K.DIAGNOSIS_KIND_CONNECTION_COALESCING, K.DIAGNOSIS_KIND_EDGE_ROUTING, K.DIAGNOSIS_KIND_COALESCING_REFUSED],
    hostSuffix: "",
    includeResolved: true,
    pageSize: 1000,
    pageToken: "",
  });
  const mine = res.diagnoses.filter((d) => names.includes(d.host)).map((d) => d.host);
  assert.equal(mine, [names[1], names[2], names[0]]);
});

test("the artifact reasons are checked in order: a dotted SNI wins over HTTP/1.1 reuse and certificate mismatch", async () => {
  const h1 = withSni(bad("dot-h1.example.net", 2), "other.example.net.", HttpProtocol.HTTP_PROTOCOL_HTTP1);
  const cert = withSni(bad("dot-cert.example.net", 1), "other.example.net.").map((r) => ({
    ...r,
    connection: r.connection && { ...r.connection, certificateCoversHost: false },
  }));
  const plainH1 = withSni(bad("plain-h1.example.net", 1), "other.example.net", HttpProtocol.HTTP_PROTOCOL_HTTP1);
  const records = [...h1, ...cert, ...plainH1].map((r) => ({ ...r, crawler: "fleet-dot" }));
  await call(s.ingest.recordFetches, s.ingest, { requestId: requestId(), records });
  const res = await call(s.diagnosis.listCrawlerAlerts, s.diagnosis, {
    window: JUNE,
    crawler: "fleet-dot",
    pageSize: 10,
    pageToken: "",
  });
  assert.equal(
    res.alerts.map((a) => [a.reason, a.count]),
    [
      [R.CRAWLER_ALERT_REASON_TRAILING_DOT_SNI, 3],
      [R.CRAWLER_ALERT_REASON_HTTP1_CROSS_HOST, 1],
    ],
  );
  assert.match(res.alerts[0]?.explanation ?? "", /trailing dot/);
});

test.run();
