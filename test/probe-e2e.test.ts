import { createHash, X509Certificate } from "node:crypto";
import type { LookupAddress } from "node:dns";
import { rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DiagnosisKind } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { HttpProtocol } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { createReporter, type LookupFunction, type ProbeFetch, probe } from "../src/index.js";
import { makePki, type TestPki } from "./support/certs-e2e.js";
import { call } from "./support/client.js";
import { startTestServer, type TestServer, tempDir } from "./support/server.js";
import {
  apacheVhosts,
  refusesCrossSni,
  startTlsServer,
  strictSni,
  type TlsTestServer,
  vhosts,
} from "./support/tls-servers.js";

const DAY_MS = 86_400_000;

let dir: string;
let pki: TestPki;
let servers: Record<"coalescing" | "vhost" | "edgeGood" | "edgeBad" | "http1" | "apache" | "ats", TlsTestServer>;
let crawldiag: TestServer;
let lookup: LookupFunction;

test.before(async () => {
  dir = tempDir();
  pki = makePki(dir);
  // The pair shares one port: a URL names one port, DNS gives both addresses.
  const edgeGood = await startTlsServer({ address: "127.0.0.2", pki, serves: vhosts("edge.crawl.test") });
  servers = {
    coalescing: await startTlsServer({
      address: "127.0.0.1",
      pki,
      serves: strictSni("a.crawl.test", "b.crawl.test", "x.other.test"),
    }),
    vhost: await startTlsServer({ address: "127.0.0.4", pki, serves: vhosts("www.crawl.test") }),
    edgeGood,
    edgeBad: await startTlsServer({ address: "127.0.0.3", port: edgeGood.port, pki, serves: vhosts("e3.crawl.test") }),
    http1: await startTlsServer({ address: "127.0.0.5", pki, serves: vhosts("old.crawl.test"), http1Only: true }),
    apache: await startTlsServer({ address: "127.0.0.8", pki, serves: apacheVhosts("www.crawl.test", "c.crawl.test") }),
    ats: await startTlsServer({
      address: "127.0.0.7",
      pki,
      serves: refusesCrossSni(403, "p.crawl.test", "q.crawl.test"),
      server: "ATS/9.2.5",
    }),
  };
  const zone: Record<string, string[]> = {
    "a.crawl.test": ["127.0.0.1"],
    "b.crawl.test": ["127.0.0.1"],
    "x.other.test": ["127.0.0.1"],
    "vh.crawl.test": ["127.0.0.4"],
    "old.crawl.test": ["127.0.0.5"],
    "edge.crawl.test": ["127.0.0.2", "127.0.0.3"],
    "e3.crawl.test": ["127.0.0.3"],
    "duo.crawl.test": ["127.0.0.3", "127.0.0.2"],
    "c.crawl.test": ["127.0.0.8"],
    "p.crawl.test": ["127.0.0.7"],
    "q.crawl.test": ["127.0.0.7"],
  };
  // Round-robin DNS: each lookup of a name rotates its answer, so successive runs reach different edge nodes first.
  const asked = new Map<string, number>();
  lookup = ((hostname: string, _options: unknown, cb: (e: Error | null, a: LookupAddress[]) => void) => {
    // A trailing dot only marks the name absolute, as to a real resolver.
    const all = zone[hostname.replace(/\.$/, "")];
    if (all === undefined) return cb(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
    const n = asked.get(hostname) ?? 0;
    asked.set(hostname, n + 1);
    const rotated = [...all.slice(n % all.length), ...all.slice(0, n % all.length)];
    cb(
      null,
      rotated.map((address) => ({ address, family: 4 })),
    );
  }) as LookupFunction;
  crawldiag = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0" });
});

test.after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
  await crawldiag.close();
  rmSync(dir, { recursive: true, force: true });
});

const url = (name: string, server: TlsTestServer, path = "/") => `https://${name}:${server.port}${path}`;

/** What the closing note lists per fetch: host, protocol, SNI, coalesced, status, retry. */
function captured(f: ProbeFetch): string {
  const r = f.record;
  const proto = r?.protocol === HttpProtocol.HTTP_PROTOCOL_HTTP2 ? "h2" : "h1";
  const c = r?.connection;
  return `${f.host.replace(/:\d+$/, "")} ${proto} sni=${c?.tlsServerName} ${f.coalesced ? "coalesced" : "own"} ${r?.statusCode ?? f.error} ${c?.remoteAddress}${f.retryOf ? " retry" : ""}`;
}

test("pools like Chrome: same address + covering certificate coalesces; a 421 is retried once on a fresh connection", async () => {
  const s = servers.coalescing;
  let tick = Date.UTC(2030, 0, 1);
  const fetches = await probe(
    [
      url("a.crawl.test", s),
      url("b.crawl.test", s, "/x?q=1"),
      url("b.crawl.test", s),
      url("x.other.test", s),
      url("old.crawl.test", servers.http1),
      url("edge.crawl.test", servers.edgeGood),
      url("e3.crawl.test", servers.edgeBad),
      url("duo.crawl.test", servers.edgeBad),
    ],
    { lookup, ca: pki.ca, concurrency: 1, clock: () => new Date(tick++), crawler: "e2e" },
  );
  const got = fetches.map((f) => [captured(f), f.record?.connection?.connectionId, f.record?.connection?.requestIndex]);
  const [a, b1, b1retry, b2, x, old] = fetches;
  assert.ok(a && b1 && b1retry && b2 && x && old, JSON.stringify(got));
  const conn = (f: ProbeFetch) => f.record?.connection;
  assert.equal(
    got.map((g) => g[0]),
    [
      "a.crawl.test h2 sni=a.crawl.test own 200 127.0.0.1",
      "b.crawl.test h2 sni=a.crawl.test coalesced 421 127.0.0.1",
      "b.crawl.test h2 sni=b.crawl.test own 200 127.0.0.1 retry",
      "b.crawl.test h2 sni=b.crawl.test own 200 127.0.0.1",
      "x.other.test h2 sni=x.other.test own 200 127.0.0.1",
      "old.crawl.test h1 sni=old.crawl.test own 200 127.0.0.5",
      // Same port, certificate covers it, but DNS does not give e3 the address of edge's connection: no pooling.
      "edge.crawl.test h2 sni=edge.crawl.test own 200 127.0.0.2",
      "e3.crawl.test h2 sni=e3.crawl.test own 200 127.0.0.3",
      // duo pools onto edge's connection (its address is duo's second); the retry goes to that same address.
      "duo.crawl.test h2 sni=edge.crawl.test coalesced 421 127.0.0.2",
      "duo.crawl.test h2 sni=duo.crawl.test own 421 127.0.0.2 retry",
    ],
  );
  // b rode a's connection as its second request; the retry opened its own, which b's next fetch reused.
  assert.is(conn(b1)?.connectionId, conn(a)?.connectionId);
  assert.equal([conn(a)?.requestIndex, conn(b1)?.requestIndex], [0, 1]);
  assert.is(b1retry.retryOf, b1.record?.fetchId);
  assert.is(b1retry.record?.retryOf, b1.record?.fetchId);
  assert.is.not(conn(b1retry)?.connectionId, conn(a)?.connectionId);
  assert.equal([conn(b2)?.connectionId, conn(b2)?.requestIndex], [conn(b1retry)?.connectionId, 1]);
  assert.is.not(conn(x)?.connectionId, conn(a)?.connectionId);
  assert.is(old.record?.protocol, HttpProtocol.HTTP_PROTOCOL_HTTP1);

  const sha = (pem: string) => createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
  assert.is(Buffer.from(conn(b1)?.certificateSha256 ?? []).toString("hex"), sha(pki.crawl.cert));
  assert.is(Buffer.from(conn(x)?.certificateSha256 ?? []).toString("hex"), sha(pki.other.cert));
  assert.is(conn(b1)?.certificateCoversHost, true);
  // No ORIGIN frame came: the field stays absent ("none received"), not false.
  assert.is(conn(b1)?.originFrameListsHost, undefined);
  assert.is(b1.record?.serverSoftware, "e2e-caddy");
  assert.is(b1.record?.url, url("b.crawl.test", s, "/x?q=1"));
  assert.equal(
    fetches.map((f) => f.record?.fetchedAt?.getTime()),
    fetches.map((_, i) => Date.UTC(2030, 0, 1) + i),
  );
  // The records say what the server saw: the SNI of each request's connection, and the authority asked for.
  assert.equal(
    s.seen.map((v) => `${v.authority.replace(/:\d+$/, "")}@${v.sni} ${v.status}`),
    [
      "a.crawl.test@a.crawl.test 200",
      "b.crawl.test@a.crawl.test 421",
      "b.crawl.test@b.crawl.test 200",
      "b.crawl.test@b.crawl.test 200",
      "x.other.test@x.other.test 200",
    ],
  );
});

test("concurrent fetches of one host share the HTTP/2 connection being opened instead of racing", async () => {
  const s = servers.coalescing;
  const fetches = await probe(
    [1, 2, 3, 4].map((i) => url("a.crawl.test", s, `/${i}`)),
    { lookup, ca: pki.ca, concurrency: 4 },
  );
  const conns = fetches.map((f) => f.record?.connection);
  assert.is(new Set(conns.map((c) => c?.connectionId)).size, 1);
  assert.equal(conns.map((c) => c?.requestIndex).sort(), [0, 1, 2, 3]);
});

test("an ORIGIN frame's list is reported per fetch (origin_frame_lists_host)", async () => {
  // The frame names a.crawl.test on this port and b.crawl.test on another: the probe must compare whole origins.
  const listing = await startTlsServer({
    address: "127.0.0.6",
    pki,
    serves: vhosts("a.crawl.test", "b.crawl.test"),
    origins: (port) => [`https://a.crawl.test:${port}`, `https://b.crawl.test:${port + 1}`],
  });
  try {
    const at = (name: string) => `https://${name}:${listing.port}/`;
    const loopback6 = ((_h: string, _o: unknown, cb: (e: null, a: LookupAddress[]) => void) =>
      cb(null, [{ address: "127.0.0.6", family: 4 }])) as LookupFunction;
    const fetches = await probe([at("a.crawl.test"), at("b.crawl.test")], {
      lookup: loopback6,
      ca: pki.ca,
      concurrency: 1,
    });
    assert.equal(
      fetches.map((f) => [f.coalesced, f.record?.connection?.originFrameListsHost]),
      [
        [false, true],
        [true, false],
      ],
    );
  } finally {
    await listing.close();
  }
});

test("a URL with a trailing dot is fetched as browsers do: SNI without the dot, Host as written, one host in the pool", async () => {
  // Apache picks its vhost by SNI and by Host; an SNI with the dot would select the default vhost and get 421.
  const s = servers.apache;
  const before = s.seen.length;
  const fetches = await probe([url("c.crawl.test.", s), url("c.crawl.test", s, "/2")], { lookup, ca: pki.ca });
  assert.equal(fetches.map(captured), [
    "c.crawl.test. h2 sni=c.crawl.test own 200 127.0.0.8",
    "c.crawl.test h2 sni=c.crawl.test own 200 127.0.0.8",
  ]);
  const [dotted, plain] = fetches.map((f) => f.record);
  assert.is(dotted?.url, url("c.crawl.test.", s));
  // Both spellings are one host: the second rides the first's connection as its own, not coalesced.
  assert.equal(
    [plain?.connection?.connectionId, plain?.connection?.requestIndex],
    [dotted?.connection?.connectionId, 1],
  );
  assert.equal(
    s.seen.slice(before).map((v) => `${v.authority.replace(/:\d+$/, "")}@${v.sni}`),
    ["c.crawl.test.@c.crawl.test", "c.crawl.test@c.crawl.test"],
  );
});

test("coalesced requests refused with 403 are retried on a fresh connection and, over days, diagnosed COALESCING_REFUSED", async () => {
  // Apache Traffic Server refuses a request whose Host differs from the SNI with 403 instead of 421.
  const s = servers.ats;
  const reporter = createReporter({ address: `127.0.0.1:${crawldiag.port}`, crawler: "e2e-ats", batchSize: 16 });
  const now = Date.now();
  const days: string[][] = [];
  for (const daysAgo of [3, 2, 1]) {
    let tick = now - daysAgo * DAY_MS;
    const fetches = await probe([url("p.crawl.test", s), url("q.crawl.test", s)], {
      lookup,
      ca: pki.ca,
      clock: () => new Date(tick++),
      crawler: "e2e-ats",
    });
    days.push(fetches.map(captured));
    const [, refused, retry] = fetches;
    assert.ok(refused?.record?.fetchId);
    assert.is(retry?.record?.retryOf, refused.record.fetchId);
    for (const f of fetches) if (f.record) await reporter.report(f.record);
  }
  await reporter.close();
  const day = [
    "p.crawl.test h2 sni=p.crawl.test own 200 127.0.0.7",
    "q.crawl.test h2 sni=p.crawl.test coalesced 403 127.0.0.7",
    "q.crawl.test h2 sni=q.crawl.test own 200 127.0.0.7 retry",
  ];
  assert.equal(days, [day, day, day]);
  assert.equal([reporter.stats().accepted, reporter.stats().rejected], [9, 0]);

  const d = crawldiag.diagnosis;
  const res = await call(d.getHostDiagnosis, d, { host: `q.crawl.test:${s.port}`, window: undefined });
  const q = res.diagnosis;
  assert.ok(q);
  assert.is(DiagnosisKind[q.kind], "DIAGNOSIS_KIND_COALESCING_REFUSED", q.summary);
  assert.equal(
    q.coalescedFrom.map((p) => p.host),
    ["p.crawl.test"],
  );
  assert.equal([q.refusedCount, q.refusedStatuses], [3, [403]]);
  assert.equal([q.retriedCount, q.retryRecoveredCount], [3, 3]);
});

test("crawled over four simulated days and reported, the three server behaviours get their diagnoses", async () => {
  const urls = [
    url("a.crawl.test", servers.coalescing),
    url("b.crawl.test", servers.coalescing),
    url("vh.crawl.test", servers.vhost),
    url("vh.crawl.test", servers.vhost, "/2"),
    url("edge.crawl.test", servers.edgeGood),
    url("edge.crawl.test", servers.edgeGood, "/2"),
  ];
  const reporter = createReporter({ address: `127.0.0.1:${crawldiag.port}`, crawler: "e2e-fleet", batchSize: 16 });
  const log: string[] = [];
  const now = Date.now();
  for (const daysAgo of [4, 3, 2, 1]) {
    let tick = now - daysAgo * DAY_MS;
    const fetches = await probe(urls, {
      lookup,
      ca: pki.ca,
      concurrency: 1,
      clock: () => new Date(tick++),
      crawler: "e2e-fleet",
    });
    for (const f of fetches) {
      log.push(`day -${daysAgo}: ${captured(f)}`);
      assert.ok(f.record, f.error);
      await reporter.report(f.record);
    }
  }
  await reporter.close();
  if (process.env.CRAWLDIAG_E2E_LOG) process.stderr.write(`${log.join("\n")}\n`);
  assert.equal([reporter.stats().accepted, reporter.stats().rejected], [log.length, 0]);

  const d = crawldiag.diagnosis;
  const diagnosis = async (host: string, server: TlsTestServer) => {
    const res = await call(d.getHostDiagnosis, d, { host: `${host}:${server.port}`, window: undefined });
    assert.ok(res.diagnosis);
    return res.diagnosis;
  };
  const b = await diagnosis("b.crawl.test", servers.coalescing);
  assert.is(DiagnosisKind[b.kind], "DIAGNOSIS_KIND_CONNECTION_COALESCING", b.summary);
  assert.equal(b.coalescedFrom, [{ host: "a.crawl.test", misdirectedCount: 4 }]);
  assert.equal([b.retriedCount, b.retryRecoveredCount, b.distinctDays], [4, 4, 4]);

  const vh = await diagnosis("vh.crawl.test", servers.vhost);
  assert.is(DiagnosisKind[vh.kind], "DIAGNOSIS_KIND_VIRTUAL_HOST", vh.summary);
  assert.equal([vh.ownConnectionMisdirectedCount, vh.coalescedMisdirectedCount], [16, 0]);

  const edge = await diagnosis("edge.crawl.test", servers.edgeGood);
  assert.is(DiagnosisKind[edge.kind], "DIAGNOSIS_KIND_EDGE_ROUTING", edge.summary);
  assert.equal(
    edge.addresses.map((x) => [x.address, x.affected]),
    [
      ["127.0.0.3", true],
      ["127.0.0.2", false],
    ],
  );

  const a = await diagnosis("a.crawl.test", servers.coalescing);
  assert.is(DiagnosisKind[a.kind], "DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS");
});

test.run();
