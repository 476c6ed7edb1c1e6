import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { retryDelayMs } from "../src/client/retry-info.js";
import { BatchError } from "../src/client/send.js";
import { createReporter, type RejectedRecord, type ReporterOptions } from "../src/index.js";
import { call, callError, connect } from "./support/client.js";
import { record } from "./support/records.js";
import { retryInfoStatus, startRelay } from "./support/reporter-relay.js";
import { ROOT, spawnServer, startTestServer, tempDir } from "./support/server.js";

const fast = { initialBackoffMs: 5, maxBackoffMs: 50, maxAttempts: 100 };

function reporterTo(port: number, o: Partial<ReporterOptions> = {}) {
  return createReporter({ address: `127.0.0.1:${port}`, crawler: "fleet-r", batchSize: 10, retry: fast, ...o });
}

/** n valid records of one host, without a crawler (the reporter's is used). */
function records(n: number, host: string, status = 200) {
  return Array.from({ length: n }, () => ({
    ...record({ url: `https://${host}/p`, statusCode: status }),
    crawler: "",
  }));
}

async function fetchCount(s: { diagnosis: ReturnType<typeof connect>["diagnosis"] }, host: string): Promise<number> {
  const res = await call(s.diagnosis.getHostStats, s.diagnosis, { host, window: undefined, bucket: 0 });
  return res.fetchCount;
}

test("batches records under the reporter's crawler; every record is counted once", async () => {
  const s = await startTestServer();
  try {
    const r = reporterTo(s.port, { flushIntervalMs: 60_000 });
    for (const rec of records(25, "batch.example")) await r.report(rec);
    // Two full batches went on their own; the last five only go with close(), long before the interval.
    await r.close();
    assert.equal(await fetchCount(s, "batch.example"), 25);
    assert.equal(r.stats(), {
      reported: 25,
      accepted: 25,
      rejected: 0,
      failed: 0,
      replayedBatches: 0,
      retries: 0,
      buffered: 0,
    });
    const late = await r.report(records(1, "batch.example")[0] as never).then(
      () => undefined,
      (e: Error) => e.message,
    );
    assert.is(late, "reporter is closed");
  } finally {
    await s.close();
  }
});

test("refused records reach onRejected with the record, field and reason", async () => {
  const s = await startTestServer();
  try {
    const seen: RejectedRecord[] = [];
    const r = reporterTo(s.port, { onRejected: (list) => seen.push(...list) });
    const good = records(3, "reject.example");
    const badStatus = { ...records(1, "reject.example")[0], statusCode: 700 } as ReturnType<typeof records>[0];
    const badUrl = { ...records(1, "reject.example")[0], url: "ftp://reject.example/" } as ReturnType<
      typeof records
    >[0];
    for (const rec of [good[0], badStatus, good[1], badUrl, good[2]]) if (rec) await r.report(rec);
    await r.close();
    assert.equal(
      seen.map((x) => [x.record.fetchId, x.field]),
      [
        [badStatus.fetchId, "status_code"],
        [badUrl.fetchId, "url"],
      ],
    );
    assert.is(r.stats().rejected, 2);
    assert.is(await fetchCount(s, "reject.example"), 3);
  } finally {
    await s.close();
  }
});

test("INVALID_ARGUMENT is never retried: the batch is given up at once", async () => {
  const s = await startTestServer({ CRAWLDIAG_MAX_BATCH: "5" });
  try {
    const failed: [BatchError, number][] = [];
    const r = reporterTo(s.port, { onBatchFailed: (e, recs) => failed.push([e, recs.length]) });
    for (const rec of records(10, "invalid.example")) await r.report(rec);
    await r.close();
    assert.equal(
      failed.map(([e, n]) => [e.code, e.attempts, n]),
      [[status.INVALID_ARGUMENT, 1, 10]],
    );
    assert.equal([r.stats().retries, r.stats().failed], [0, 10]);

    // Without onBatchFailed nothing is dropped silently: flush rejects with the error.
    const quiet = reporterTo(s.port);
    for (const rec of records(10, "invalid.example")) await quiet.report(rec);
    const err = await quiet.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(err, BatchError);
    await quiet.close();
  } finally {
    await s.close();
  }
});

test("a lost answer (DEADLINE_EXCEEDED) is retried with the same request_id and replayed, not stored twice", async () => {
  const s = await startTestServer();
  const relay = await startRelay(s.port, (n) => (n === 1 ? { kind: "lose-answer" } : { kind: "forward" }));
  try {
    const r = reporterTo(relay.port, { deadlineMs: 300 });
    for (const rec of records(10, "lost.example")) await r.report(rec);
    await r.close();
    assert.is(relay.calls.length, 2);
    assert.is(relay.calls[1]?.requestId, relay.calls[0]?.requestId);
    assert.is(r.stats().replayedBatches, 1);
    assert.is(r.stats().accepted, 10);
    assert.is(await fetchCount(s, "lost.example"), 10);
  } finally {
    await relay.close();
    await s.close();
  }
});

test("UNAVAILABLE with a RetryInfo delay waits that long, far beyond the client's own backoff", async () => {
  const s = await startTestServer();
  const relay = await startRelay(s.port, (n) =>
    n === 1 ? { kind: "fail", code: status.UNAVAILABLE, retryDelayMs: 400 } : { kind: "forward" },
  );
  try {
    const r = reporterTo(relay.port, { retry: { initialBackoffMs: 1, maxBackoffMs: 2, maxAttempts: 5 } });
    for (const rec of records(10, "later.example")) await r.report(rec);
    await r.close();
    const [first, second] = relay.calls;
    assert.ok(first && second);
    assert.is(second.requestId, first.requestId);
    assert.ok(second.atMs - first.atMs >= 395, `retried after ${second.atMs - first.atMs} ms`);
    assert.is(await fetchCount(s, "later.example"), 10);
  } finally {
    await relay.close();
    await s.close();
  }
});

test("RetryInfo decoding: seconds and nanos, other details and garbage ignored", () => {
  assert.is(retryDelayMs(retryInfoStatus(14, 1500)), 1500);
  assert.is(retryDelayMs(retryInfoStatus(14, 0)), 0);
  assert.is(retryDelayMs(Buffer.from([0x08, 0x0e, 0x12, 0x01, 0x78])), undefined);
  assert.is(retryDelayMs(Buffer.from([0x1a, 0xff, 0x01])), undefined);
});

test("back-pressure: once maxBuffered records wait, report() resolves only when a batch frees room", async () => {
  const s = await startTestServer();
  const relay = await startRelay(s.port, () => ({ kind: "forward" }), true);
  try {
    const r = reporterTo(relay.port, { batchSize: 2, maxBuffered: 4, token: "s3cret" });
    const recs = records(5, "pressure.example");
    for (const rec of recs.slice(0, 4)) await r.report(rec);
    await relay.received(1);
    let admitted = false;
    const fifth = r.report(recs[4] as never).then(() => {
      admitted = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.is(admitted, false, "the fifth record must wait while the first batch is held");
    assert.is(r.stats().buffered, 5);
    relay.open();
    await fifth;
    await r.close();
    assert.is(await fetchCount(s, "pressure.example"), 5);
    assert.ok(relay.calls.every((c) => c.authorization === "Bearer s3cret"));
  } finally {
    await relay.close();
    await s.close();
  }
});

test("a server killed (SIGKILL) and restarted mid-run loses and duplicates nothing", async () => {
  const dir = tempDir();
  const env = { CRAWLDIAG_DB: join(dir, "crawldiag.db"), CRAWLDIAG_LOG: "info" };
  let server = await spawnServer(env);
  const port = server.port;
  const total = 3000;
  const r = reporterTo(port, { batchSize: 50, maxBuffered: 400 });
  let restarted: Promise<void> | undefined;
  try {
    // Every tenth record is a 421: those keep per-fetch detail, so one sent twice would come back refused.
    const all = records(total, "kill.example").map((rec, i) => (i % 10 === 0 ? { ...rec, statusCode: 421 } : rec));
    for (const rec of all) {
      await r.report(rec);
      if (restarted === undefined && r.stats().accepted >= 1000) {
        const dying = server;
        restarted = (async () => {
          dying.child.kill("SIGKILL");
          await dying.exited;
          server = await spawnServer({ ...env, CRAWLDIAG_ADDRESS: `127.0.0.1:${port}` });
        })();
      }
    }
    await restarted;
    await r.close();
    const stats = r.stats();
    assert.ok(restarted, "the server was never killed");
    assert.ok(stats.retries > 0, "the reporter never noticed the server was gone");
    assert.equal([stats.accepted, stats.rejected, stats.failed], [total, 0, 0]);
    const c = connect(port);
    try {
      const res = await call(c.diagnosis.getHostStats, c.diagnosis, {
        host: "kill.example",
        window: undefined,
        bucket: 0,
      });
      assert.equal([res.fetchCount, res.misdirectedCount], [total, total / 10]);
      const missing = await callError(c.diagnosis.getHostStats, c.diagnosis, {
        host: "never.example",
        window: undefined,
        bucket: 0,
      });
      assert.is(missing.code, status.NOT_FOUND);
    } finally {
      c.closeAll();
    }
  } finally {
    server.child.kill("SIGTERM");
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the package entry never loads the server's store (SQLite)", () => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    assert.not.match(text, /from "better-sqlite3"/, `${file} imports SQLite`);
    for (const m of text.matchAll(/from "(\.{1,2}\/[^"]+)\.js"/g)) visit(join(dirname(file), `${m[1]}.ts`));
  };
  visit(join(ROOT, "src/index.ts"));
  assert.ok([...seen].some((f) => f.endsWith("probe/connection.ts")));
  assert.not.ok([...seen].some((f) => f.includes("/store/")));
});

test.run();
