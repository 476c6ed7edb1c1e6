import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { call, connect } from "./support/client.js";
import { healthCheck } from "./support/health.js";
import { record, requestId } from "./support/records.js";
import { spawnServer, startTestServer, tempDir } from "./support/server.js";

test("health answers SERVING for the server and for each service, NOT_FOUND for others", async () => {
  const s = await startTestServer();
  try {
    for (const svc of ["", "webmasterid.crawldiag.v1.IngestService", "webmasterid.crawldiag.v1.DiagnosisService"]) {
      assert.is(await healthCheck(s.ingest, svc), "SERVING", svc);
    }
    const err = await healthCheck(s.ingest, "no.such.Service").catch((e) => e);
    assert.is(err.code, status.NOT_FOUND);
  } finally {
    await s.close();
  }
});

test("a restarted server keeps what it stored, at the same schema version", async () => {
  const dir = tempDir();
  const first = await startTestServer({}, dir);
  await call(first.ingest.recordFetches, first.ingest, {
    requestId: "keep-1",
    records: [
      record({ url: "https://keep.example.com/" }),
      record({ url: "https://keep.example.com/", statusCode: 421 }),
    ],
  });
  await first.stop();
  const db = new Database(join(dir, "crawldiag.db"), { readonly: true });
  const version = db.pragma("user_version", { simple: true });
  db.close();
  const second = await startTestServer({}, dir);
  try {
    const st = await call(second.diagnosis.getHostStats, second.diagnosis, {
      host: "keep.example.com",
      window: undefined,
      bucket: 0,
    });
    assert.equal([st.fetchCount, st.misdirectedCount], [2, 1]);
    const replay = await call(second.ingest.recordFetches, second.ingest, {
      requestId: "keep-1",
      records: [record({ url: "https://keep.example.com/" })],
    }).catch((e) => e);
    assert.is(replay.code, status.ALREADY_EXISTS, "request ids survive a restart");
    const db2 = new Database(join(dir, "crawldiag.db"), { readonly: true });
    assert.is(db2.pragma("user_version", { simple: true }), version);
    assert.is(db2.pragma("journal_mode", { simple: true }), "wal");
    db2.close();
  } finally {
    await second.close();
  }
});

test("SIGTERM lets in-flight batches finish: every acknowledged batch is stored, the process exits 0", async () => {
  const dir = tempDir();
  const env = { CRAWLDIAG_DB: join(dir, "crawldiag.db"), CRAWLDIAG_LOG: "off" };
  const server = await spawnServer(env);
  const c = connect(server.port);
  const batches = Array.from({ length: 8 }, (_, b) =>
    Array.from({ length: 2000 }, (_, i) => record({ url: "https://drain.example.com/", fetchId: `d${b}-${i}` })),
  );
  const sent = batches.map((records) =>
    call(c.ingest.recordFetches, c.ingest, { requestId: requestId("drain"), records }).then(
      (r) => r.acceptedCount,
      (e) => {
        // Refused while shutting down: must then be absent (checked through the totals below).
        assert.ok([status.UNAVAILABLE, status.CANCELLED].includes(e.code), `unexpected ${e.code} ${e.details}`);
        return 0;
      },
    ),
  );
  setTimeout(() => server.child.kill("SIGTERM"), 30);
  const acknowledged = (await Promise.all(sent)).reduce((a, b) => a + b, 0);
  c.closeAll();
  assert.is(await server.exited, 0);
  assert.match(server.stderr(), /"msg":"stopped"/);
  const again = await startTestServer({}, dir);
  try {
    const st = await call(again.diagnosis.getHostStats, again.diagnosis, {
      host: "drain.example.com",
      window: undefined,
      bucket: 0,
    }).catch(() => ({ fetchCount: 0 }));
    assert.is(st.fetchCount, acknowledged);
  } finally {
    await again.close();
  }
});

test("a bad configuration value stops start-up with a message naming the variable", async () => {
  for (const [name, value] of [
    ["CRAWLDIAG_RETENTION_DAYS", "-1"],
    ["CRAWLDIAG_MAX_BATCH", "lots"],
    ["CRAWLDIAG_SYNC", "SOMETIMES"],
    ["CRAWLDIAG_ADDRESS", "nowhere"],
  ] as const) {
    const err = await spawnServer({ [name]: value }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    assert.ok(err, `${name}=${value} was accepted`);
    assert.match(err, name);
  }
});

test.run();
