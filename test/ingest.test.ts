import { status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { FetchRecord, HttpProtocol } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call, callError } from "./support/client.js";
import { record, requestId } from "./support/records.js";
import { startTestServer, type TestServer } from "./support/server.js";

let s: TestServer;
test.before(async () => {
  s = await startTestServer({ CRAWLDIAG_MAX_BATCH: "50" });
});
test.after(async () => s.close());

const send = (records: FetchRecord[], id = requestId()) =>
  call(s.ingest.recordFetches, s.ingest, { requestId: id, records });
const stats = (host: string) => call(s.diagnosis.getHostStats, s.diagnosis, { host, window: undefined, bucket: 0 });

/** Nothing of the host was stored: it is still unknown. */
async function assertNeverStored(host: string) {
  const err = await callError(s.diagnosis.getHostStats, s.diagnosis, { host, window: undefined, bucket: 0 });
  assert.is(err.code, status.NOT_FOUND, `${host} was stored`);
}

/** Sends one bad record between two good ones and returns the single rejection. */
async function rejectionOf(bad: FetchRecord) {
  const res = await send([record(), bad, record()]);
  assert.is(res.acceptedCount, 2, "the valid records of the batch are stored");
  assert.is(res.rejectedCount, 1);
  const [r] = res.rejections;
  assert.ok(r);
  assert.is(r.index, 1);
  return r;
}

// Built when each test runs, not at import: uvu imports every file first, and times must be relative to the call.
const cases: [string, () => FetchRecord, string][] = [
  ["a missing fetch_id", () => record({ fetchId: "" }), "fetch_id"],
  ["a fetch_id with a space", () => record({ fetchId: "a b" }), "fetch_id"],
  ["a fetch_id of 129 characters", () => record({ fetchId: "x".repeat(129) }), "fetch_id"],
  ["a missing crawler", () => record({ crawler: "" }), "crawler"],
  ["a crawler with a forbidden character", () => record({ crawler: "fleet a" }), "crawler"],
  ["a crawler of 65 characters", () => record({ crawler: "c".repeat(65) }), "crawler"],
  ["a missing url", () => record({ url: "" }), "url"],
  ["a relative url", () => record({ url: "/index.html" }), "url"],
  ["an ftp url", () => record({ url: "ftp://files.example.com/" }), "url"],
  ["a url over 2048 characters", () => record({ url: `https://a.example.com/${"p".repeat(2040)}` }), "url"],
  ["a url whose host is not a DNS name", () => record({ url: "https://exa mple.com/" }), "url"],
  ["a url whose host has an empty label", () => record({ url: "https://a..example.com/" }), "url"],
  ["a url with a port out of range", () => record({ url: "https://example.com:70000/" }), "url"],
  ["a status code of 0", () => record({ statusCode: 0 }), "status_code"],
  ["a status code of 99", () => record({ statusCode: 99 }), "status_code"],
  ["a status code of 600", () => record({ statusCode: 600 }), "status_code"],
  ["a missing fetched_at", () => record({ fetchedAt: undefined }), "fetched_at"],
  ["a fetched_at 6 minutes ahead", () => record({ fetchedAt: new Date(Date.now() + 6 * 60_000) }), "fetched_at"],
  [
    "a fetched_at older than retention",
    () => record({ fetchedAt: new Date(Date.now() - 91 * 86_400_000) }),
    "fetched_at",
  ],
  ["an unknown protocol", () => record({ protocol: 9 as HttpProtocol }), "protocol"],
  ["a retry_of with a space", () => record({ retryOf: "a b" }), "retry_of"],
  ["a fetch that retries itself", () => record({ fetchId: "self", retryOf: "self" }), "retry_of"],
  ["a server_software of 65 characters", () => record({ serverSoftware: "s".repeat(65) }), "server_software"],
  ["a connection_id with a space", () => record({ connection: { connectionId: "c 1" } }), "connection.connection_id"],
  [
    "an SNI that is not a name",
    () => record({ connection: { tlsServerName: "bad name!" } }),
    "connection.tls_server_name",
  ],
  [
    "a remote address that is a name",
    () => record({ connection: { remoteAddress: "example.com" } }),
    "connection.remote_address",
  ],
  [
    "a remote address out of range",
    () => record({ connection: { remoteAddress: "256.1.1.1" } }),
    "connection.remote_address",
  ],
  [
    "a 31-byte certificate digest",
    () => record({ connection: { certificateSha256: Buffer.alloc(31) } }),
    "connection.certificate_sha256",
  ],
];

for (const [what, bad, field] of cases) {
  test(`a record with ${what} is rejected on field ${field}, the others are stored`, async () => {
    const r = await rejectionOf(bad());
    assert.is(r.field, field);
    assert.ok(r.reason.length > 10, "the reason says what is wrong");
  });
}

test("boundary values are accepted: 128-char fetch_id, 64-char crawler, 2048-char url, 100 and 599, 5 minutes ahead", async () => {
  const url = `https://b.example.com/${"p".repeat(2048 - "https://b.example.com/".length)}`;
  const res = await send([
    record({ fetchId: "x".repeat(128), crawler: `${"c".repeat(60)}.:/-` }),
    record({ url, statusCode: 100 }),
    record({ statusCode: 599, fetchedAt: new Date(Date.now() + 4 * 60_000) }),
    record({ connection: { tlsServerName: "", remoteAddress: "2001:DB8::1", certificateSha256: Buffer.alloc(32) } }),
    record({ connection: null, protocol: 0 }),
  ]);
  assert.equal(res.rejections, []);
  assert.is(res.acceptedCount, 5);
});

test("a rejection carries the record's index and fetch_id, in record order", async () => {
  const res = await send([
    record({ fetchId: "bad-0", statusCode: 1 }),
    record(),
    record({ fetchId: "bad-2", url: "" }),
  ]);
  assert.equal(
    res.rejections.map((r) => [r.index, r.fetchId, r.field]),
    [
      [0, "bad-0", "status_code"],
      [2, "bad-2", "url"],
    ],
  );
});

test("a fetch_id repeated in one batch is rejected the second time only", async () => {
  const res = await send([
    record({ fetchId: "dup" }),
    record({ fetchId: "dup" }),
    record({ fetchId: "dup", crawler: "other" }),
  ]);
  assert.is(res.acceptedCount, 2, "the same fetch_id of another crawler is a different fetch");
  assert.equal(
    res.rejections.map((r) => [r.index, r.field]),
    [[1, "fetch_id"]],
  );
});

test("a 421 whose fetch_id was stored by an earlier batch is rejected, not counted twice", async () => {
  const host = "dup421.example.com";
  const r = record({ url: `https://${host}/`, statusCode: 421, fetchId: "m-1" });
  await send([r]);
  const again = await send([{ ...r }]);
  assert.is(again.acceptedCount, 0);
  assert.is(again.rejections[0]?.field, "fetch_id");
  assert.is((await stats(host)).misdirectedCount, 1);
});

test("only the first 100 rejections are listed, all are counted", async () => {
  const bad = Array.from({ length: 50 }, () => record({ statusCode: 0 }));
  const big = await startTestServer({ CRAWLDIAG_MAX_BATCH: "150" });
  try {
    const res = await call(big.ingest.recordFetches, big.ingest, {
      requestId: requestId(),
      records: [
        ...bad,
        ...bad.map((r) => ({ ...r, fetchId: `${r.fetchId}b` })),
        ...bad.map((r) => ({ ...r, fetchId: `${r.fetchId}c` })),
      ],
    });
    assert.is(res.rejectedCount, 150);
    assert.is(res.rejections.length, 100);
    assert.is(res.rejections[99]?.index, 99);
  } finally {
    await big.close();
  }
});

test("a missing or malformed request_id is INVALID_ARGUMENT and stores nothing", async () => {
  for (const id of ["", "has space", "x".repeat(65), "é"]) {
    const err = await callError(s.ingest.recordFetches, s.ingest, {
      requestId: id,
      records: [record({ url: "https://never.example.com/" })],
    });
    assert.is(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /request_id/);
  }
  await assertNeverStored("never.example.com");
});

test("more records than the maximum batch is INVALID_ARGUMENT naming records, and stores nothing", async () => {
  const records = Array.from({ length: 51 }, () => record({ url: "https://toomany.example.com/" }));
  const err = await callError(s.ingest.recordFetches, s.ingest, { requestId: requestId(), records });
  assert.is(err.code, status.INVALID_ARGUMENT);
  assert.match(err.details, /records/);
  assert.match(err.details, /50/);
  await assertNeverStored("toomany.example.com");
});

test("an empty batch is accepted", async () => {
  const res = await send([]);
  assert.equal([res.acceptedCount, res.rejectedCount, res.replayed], [0, 0, false]);
});

test("a replayed request_id returns the first result with replayed=true and stores nothing again", async () => {
  const host = "replay.example.com";
  const records = [
    record({ url: `https://${host}/a` }),
    record({ url: `https://${host}/b` }),
    record({ statusCode: 7 }),
  ];
  const id = requestId();
  const first = await send(records, id);
  const second = await send(records, id);
  assert.is(first.replayed, false);
  assert.is(second.replayed, true);
  assert.equal({ ...second, replayed: false }, first);
  assert.is((await stats(host)).fetchCount, 2);
});

test("the same request_id with different records is ALREADY_EXISTS and stores nothing", async () => {
  const host = "conflict.example.com";
  const id = requestId();
  await send([record({ url: `https://${host}/` })], id);
  const err = await callError(s.ingest.recordFetches, s.ingest, {
    requestId: id,
    records: [record({ url: `https://${host}/` }), record({ url: `https://${host}/` })],
  });
  assert.is(err.code, status.ALREADY_EXISTS);
  assert.match(err.details, /request_id/);
  assert.is((await stats(host)).fetchCount, 1);
});

test.run();
