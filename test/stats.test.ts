import { status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StatsBucket } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { HttpProtocol } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call, callError } from "./support/client.js";
import { record, requestId } from "./support/records.js";
import { startTestServer, type TestServer } from "./support/server.js";

let s: TestServer;
const H = 3_600_000;
// Whole hours in the past, so the default window (30 days ending now) holds them.
const base = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 3 * 86_400_000;
const at = (hours: number, minutes = 0) => new Date(base + hours * H + minutes * 60_000);

test.before(async () => {
  s = await startTestServer();
  const url = "https://stats.example.com/page";
  await call(s.ingest.recordFetches, s.ingest, {
    requestId: requestId(),
    records: [
      record({ url, fetchedAt: at(1, 5), statusCode: 200 }),
      record({ url, fetchedAt: at(1, 55), statusCode: 421 }),
      record({ url, fetchedAt: at(2, 0), statusCode: 404, protocol: HttpProtocol.HTTP_PROTOCOL_HTTP1 }),
      record({ url, fetchedAt: at(26, 0), statusCode: 421, protocol: HttpProtocol.HTTP_PROTOCOL_HTTP3 }),
      record({
        url,
        fetchedAt: at(26, 30),
        statusCode: 200,
        protocol: HttpProtocol.HTTP_PROTOCOL_UNSPECIFIED,
        connection: null,
      }),
      record({ url: "https://other.example.com/", fetchedAt: at(1) }),
    ],
  });
});
test.after(async () => s.close());

const stats = (
  host: string,
  bucket = StatsBucket.STATS_BUCKET_UNSPECIFIED,
  window?: { startTime: Date | undefined; endTime: Date | undefined },
) => call(s.diagnosis.getHostStats, s.diagnosis, { host, window, bucket });

test("GetHostStats counts fetches, 421s, statuses and protocols of the host", async () => {
  const r = await stats("stats.example.com");
  assert.is(r.host, "stats.example.com");
  assert.is(r.fetchCount, 5);
  assert.is(r.misdirectedCount, 2);
  assert.equal(r.statusCounts, [
    { statusCode: 200, count: 2 },
    { statusCode: 404, count: 1 },
    { statusCode: 421, count: 2 },
  ]);
  assert.equal(r.protocolCounts, [
    { protocol: HttpProtocol.HTTP_PROTOCOL_UNSPECIFIED, count: 1 },
    { protocol: HttpProtocol.HTTP_PROTOCOL_HTTP1, count: 1 },
    { protocol: HttpProtocol.HTTP_PROTOCOL_HTTP2, count: 2 },
    { protocol: HttpProtocol.HTTP_PROTOCOL_HTTP3, count: 1 },
  ]);
});

test("buckets default to UTC days, ascending, empty ones left out", async () => {
  const r = await stats("stats.example.com");
  assert.equal(r.buckets, [
    { startTime: new Date(base), fetchCount: 3, misdirectedCount: 1 },
    { startTime: new Date(base + 86_400_000), fetchCount: 2, misdirectedCount: 1 },
  ]);
});

test("hour buckets split the same figures per UTC hour", async () => {
  const r = await stats("stats.example.com", StatsBucket.STATS_BUCKET_HOUR);
  assert.equal(
    r.buckets.map((b) => [(b.startTime?.getTime() ?? 0) - base, b.fetchCount, b.misdirectedCount]),
    [
      [1 * H, 2, 1],
      [2 * H, 1, 0],
      [26 * H, 2, 1],
    ],
  );
});

test("the host is normalised: case, trailing dot and IDNA", async () => {
  assert.is((await stats("STATS.Example.COM.")).fetchCount, 5);
  await call(s.ingest.recordFetches, s.ingest, {
    requestId: requestId(),
    records: [record({ url: "https://Bücher.example/" })],
  });
  assert.is((await stats("xn--bcher-kva.example")).fetchCount, 1);
  assert.is((await stats("bücher.example")).host, "xn--bcher-kva.example");
});

test("a port is kept only when it is not the scheme's default", async () => {
  await call(s.ingest.recordFetches, s.ingest, {
    requestId: requestId(),
    records: [
      record({ url: "https://port.example.com:443/" }),
      record({ url: "http://port.example.com:80/" }),
      record({ url: "https://port.example.com:8443/" }),
    ],
  });
  assert.is((await stats("port.example.com")).fetchCount, 2);
  assert.is((await stats("port.example.com:8443")).fetchCount, 1);
});

test("the window is [start, end): a fetch at the end is left out, one at the start counted", async () => {
  const r = await stats("stats.example.com", StatsBucket.STATS_BUCKET_HOUR, { startTime: at(2), endTime: at(26) });
  assert.is(r.fetchCount, 1);
  assert.is(r.buckets[0]?.startTime?.getTime(), base + 2 * H);
});

test("a known host with nothing in the window returns zeros", async () => {
  const r = await stats("stats.example.com", 0, { startTime: at(100), endTime: at(200) });
  assert.equal([r.fetchCount, r.misdirectedCount, r.statusCounts, r.buckets], [0, 0, [], []]);
});

test("a host never seen is NOT_FOUND, a malformed one INVALID_ARGUMENT", async () => {
  assert.is(
    (
      await callError(s.diagnosis.getHostStats, s.diagnosis, {
        host: "nobody.example.com",
        window: undefined,
        bucket: 0,
      })
    ).code,
    status.NOT_FOUND,
  );
  for (const host of ["", "bad host", "a..b"]) {
    const err = await callError(s.diagnosis.getHostStats, s.diagnosis, { host, window: undefined, bucket: 0 });
    assert.is(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /host/);
  }
});

test("a window whose start is not before its end is INVALID_ARGUMENT", async () => {
  const err = await callError(s.diagnosis.getHostStats, s.diagnosis, {
    host: "stats.example.com",
    window: { startTime: at(5), endTime: at(5) },
    bucket: 0,
  });
  assert.is(err.code, status.INVALID_ARGUMENT);
  assert.match(err.details, /window/);
});

test("an unknown bucket value is INVALID_ARGUMENT", async () => {
  const err = await callError(s.diagnosis.getHostStats, s.diagnosis, {
    host: "stats.example.com",
    window: undefined,
    bucket: 7,
  });
  assert.is(err.code, status.INVALID_ARGUMENT);
  assert.match(err.details, /bucket/);
});

test.run();
