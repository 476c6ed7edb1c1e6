import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Workload } from "../bench/workload.js";
import { startNats, type TestNats } from "../src/dev/nats-server.js";
import { DomainError } from "../src/domain/errors.js";
import { MISDIRECTED } from "../src/domain/fetch.js";
import { type IngestResult, ingestGroup, type ReceivedBatch } from "../src/domain/ingest.js";
import type { BatchStore, LoggedBatch } from "../src/domain/logged-batch.js";
import type { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { RecordFetchesRequest } from "../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { createLogger } from "../src/log.js";
import { type PreparedBatch, prepareBatch } from "../src/store/clickhouse/raw.js";
import { LocalChecker } from "../src/store/nats/batch-check.js";
import { contextHeaders, contextOf, replayMessage } from "../src/store/nats/batch-message.js";
import { ThreadChecker } from "../src/store/nats/checker-thread.js";
import { Drainer } from "../src/store/nats/drain.js";
import { Handoff } from "../src/store/nats/handoff.js";
import { LogIngest } from "../src/store/nats/ingest.js";
import { findEntry } from "../src/store/nats/request-entry.js";
import { connectLog, type NatsLog, STREAM, SUBJECT } from "../src/store/nats/setup.js";
import { openDb } from "../src/store/sqlite/db.js";
import { Writer } from "../src/store/sqlite/writer.js";
import { record, requestId } from "./support/records.js";
import { tempDir } from "./support/server.js";
import { waitFor } from "./support/wait.js";

const quiet = createLogger("off", () => {});
const DAY_MS = 86_400_000;

/** Stands for ClickHouse: keeps what it was given, by seq, and can be told to fail. */
class RecordingStore implements BatchStore {
  readonly bySeq = new Map<number, LoggedBatch>();
  writes = 0;
  failures = 0;
  prepare(b: LoggedBatch): LoggedBatch {
    return b;
  }
  async write(batches: readonly LoggedBatch[]): Promise<void> {
    this.writes++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error("store down");
    }
    for (const b of batches) {
      assert.not.ok(this.bySeq.has(b.seq), `seq ${b.seq} delivered twice`);
      this.bySeq.set(b.seq, b);
    }
  }
}

const encode = (id: string, records: FetchRecord[]) => RecordFetchesRequest.encode({ requestId: id, records }).finish();
const received = (bytes: Uint8Array, nowMs = Date.now(), deniedCrawlers?: string[]): ReceivedBatch => ({
  bytes,
  records: 0,
  nowMs,
  deniedCrawlers,
});

async function kindOf(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error("resolved, expected a DomainError");
}

/** The same batches through SQLite's ingest (domain/ingest.ts + sqlite/writer.ts), one after the other. */
function sqliteResults(batches: Uint8Array[], nowMs: number, denied: string[]): IngestResult[] {
  const dir = tempDir();
  const db = openDb(join(dir, "c.db"), { sync: "NORMAL" });
  try {
    const writer = new Writer(db);
    return batches.map((bytes) => {
      const req = { ...RecordFetchesRequest.decode(bytes), crawlerAllowed: (c: string) => !denied.includes(c) };
      const digest = createHash("sha256").update(bytes).digest();
      const limits = { maxBatch: 5000, nowMs, oldestMs: nowMs - 90 * DAY_MS, maxBytes: 0 };
      const [r] = ingestGroup(writer, [{ req, digest, limits }]);
      if (r === undefined || r instanceof DomainError) throw new Error(`SQLite refused: ${String(r)}`);
      return r;
    });
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

let nats: TestNats;
let logs: NatsLog[] = [];
const open = async (o: { maxStreamBytes?: number; replicas?: number; urls?: string[] } = {}) => {
  const log = await connectLog(o.urls ?? nats.urls, { replicas: o.replicas ?? 1, retentionDays: 90, ...o });
  logs.push(log);
  return log;
};
const ingestOf = (log: NatsLog, deadlineMs?: number) =>
  new LogIngest(log, { maxBatch: 5000, retentionDays: 90, deadlineMs });

test.before.each(async () => {
  nats = await startNats();
});
test.after.each(async () => {
  await Promise.all(logs.map((l) => l.close()));
  logs = [];
  await nats.stop();
});

test("batches acknowledged by the log reach the writer once, with the fetches and counts SQLite gives", async () => {
  const now = Date.now();
  const shared421 = record({ statusCode: MISDIRECTED, fetchId: "shared-421" });
  const first = encode(requestId("a"), [
    record(),
    shared421,
    record({ statusCode: 0 }),
    record({ statusCode: MISDIRECTED, fetchId: "twice" }),
    record({ statusCode: MISDIRECTED, fetchId: "twice" }),
    record({ retryOf: "shared-421", fetchId: "retry-1" }),
    record({ crawler: "blocked" }),
    record({ fetchedAt: new Date(now - 91 * DAY_MS) }),
  ]);
  const second = encode(requestId("b"), [record(), { ...shared421, url: "https://api.example.com/" }, record()]);
  const expected = sqliteResults([first, second], now, ["blocked"]);
  const log = await open();
  const ingest = ingestOf(log);
  const got = [
    await ingest.submit(received(first, now, ["blocked"])),
    await ingest.submit(received(second, now, ["blocked"])),
  ];
  assert.equal(got, expected);
  assert.equal(got[1]?.rejections, [
    { index: 1, fetchId: "shared-421", field: "fetch_id", reason: "already recorded by an earlier batch" },
  ]);

  const store = new RecordingStore();
  const drainer = new Drainer(log, store, quiet);
  await drainer.start();
  await waitFor("both batches stored", () => store.bySeq.size === 2);
  const indexes = [...store.bySeq.values()].map((b) => b.fetches.map((f) => f.index));
  assert.equal(indexes, [
    [0, 1, 3, 5],
    [0, 2],
  ]);
  await waitFor("the backlog to empty", async () => (await drainer.lag()).streamMessages === 0);
  const lag = await drainer.lag();
  assert.is(lag.pending + lag.ackPending, 0);
  assert.ok(lag.lastWriteMs !== undefined);
  await drainer.stop();
});

test("a node with both roles stores the fetches its ingest validated: those a writer reading the log would store", async () => {
  const now = Date.now();
  const shared421 = record({ statusCode: MISDIRECTED, fetchId: "handed-421" });
  const first = encode(requestId("h"), [record(), shared421, record({ statusCode: 0 }), record({ url: "" })]);
  const second = encode(requestId("h"), [record(), { ...shared421, url: "https://api.example.com/" }, record()]);
  const log = await open();
  const handoff = new Handoff<LoggedBatch>();
  const ingest = new LogIngest(log, { maxBatch: 5000, retentionDays: 90 }, new LocalChecker((b) => b), handoff);
  await ingest.submit(received(first, now));
  await ingest.submit(received(second, now));
  // A resend is answered from its entry: nothing more is logged or handed over.
  assert.ok((await ingest.submit(received(second, now))).replayed);
  const info = await log.jsm.streams.info(STREAM);
  const seqs = [info.state.first_seq, info.state.last_seq];
  assert.is(info.state.messages, 2);
  const fromLog = [];
  for (const seq of seqs) {
    const m = await log.jsm.streams.getMessage(STREAM, { seq });
    fromLog.push(replayMessage(m.data, contextOf(m.header)).accepted);
    assert.ok(handoff.get(seq) !== undefined, `seq ${seq} handed over`);
  }
  // The invalid records (no status, no url) and the refused 421 are left out.
  assert.equal(
    fromLog.map((fs) => fs.map((f) => f.index)),
    [
      [0, 1],
      [0, 2],
    ],
  );

  const store = new RecordingStore();
  const drainer = new Drainer(log, store, quiet, { handoff });
  await drainer.start();
  await waitFor("both batches stored", () => store.bySeq.size === 2);
  await drainer.stop();
  assert.equal(
    seqs.map((seq) => store.bySeq.get(seq)?.fetches),
    fromLog,
  );
  for (const seq of seqs) assert.is(handoff.get(seq), undefined, `seq ${seq} let go once stored`);
});

test("on a thread of its own, ingest hands over each batch as the ClickHouse store prepares what a writer reads from the log", async () => {
  const now = Date.now();
  const shared421 = record({ statusCode: MISDIRECTED, fetchId: "threaded-421" });
  const first = encode(requestId("t"), [record(), shared421, record({ statusCode: 0 }), record({ retryOf: "x" })]);
  const second = encode(requestId("t"), [{ ...shared421, url: "https://api.example.com/" }, record(), record()]);
  const log = await open();
  const handoff = new Handoff<PreparedBatch>();
  const checker = new ThreadChecker<PreparedBatch>("cluster-ingest-worker");
  try {
    const ingest = new LogIngest(log, { maxBatch: 5000, retentionDays: 90 }, checker, handoff);
    // As gRPC hands them over: views into a larger buffer (not Buffer's pool), which must stay as they are.
    const view = (b: Uint8Array) => Buffer.concat([Buffer.alloc(8192), b]).subarray(8192);
    const results = [await ingest.submit(received(view(first), now)), await ingest.submit(received(view(second), now))];
    assert.equal(results, sqliteResults([first, second], now, []));
    const err = await kindOf(ingest.submit(received(Buffer.from([0xff, 0xff]), now)));
    assert.is(err.kind, "invalid_argument");
    assert.match(err.message, /^request: /);
    const info = await log.jsm.streams.info(STREAM);
    assert.is(info.state.messages, 2);
    const expectedBySeq = new Map<number, ReturnType<typeof text>>();
    const text = (b: PreparedBatch | undefined) =>
      b && { ...b, parts: b.parts.map((p) => ({ ...p, lines: Buffer.from(p.lines).toString() })) };
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await log.jsm.streams.getMessage(STREAM, { seq });
      const expected = prepareBatch({ seq, fetches: replayMessage(m.data, contextOf(m.header)).accepted });
      assert.equal(text(await handoff.get(seq)), text(expected), `seq ${seq}`);
      expectedBySeq.set(seq, text(expected));
    }
    // A writer node decodes on the same thread what no ingest handed it over; a message that is not a batch is
    // dropped, not tried forever.
    await log.js.publish(SUBJECT, Buffer.from("not a batch"));
    const stored = new Map<number, PreparedBatch>();
    const store = {
      prepare: prepareBatch,
      write: async (bs: readonly PreparedBatch[]) => {
        for (const b of bs) stored.set(b.seq, b);
      },
    };
    const drainer = new Drainer(log, store, quiet, { decoder: checker });
    await drainer.start();
    await waitFor("the backlog to empty", async () => (await drainer.lag()).streamMessages === 0);
    await drainer.stop();
    assert.equal(new Map([...stored].map(([seq, b]) => [seq, text(b)])), expectedBySeq);
  } finally {
    await checker.close();
  }
});

test("a request_id sent again through another node gets its first result, replayed; another batch under it is ALREADY_EXISTS", async () => {
  const id = requestId("replay");
  const bytes = encode(id, [record(), record({ statusCode: MISDIRECTED }), record({ url: "" })]);
  const first = await ingestOf(await open()).submit(received(bytes));
  const other = ingestOf(await open());
  assert.equal(await other.submit(received(bytes)), { ...first, replayed: true });
  const err = await kindOf(other.submit(received(encode(id, [record()]))));
  assert.is(err.kind, "already_exists");
  assert.is(err.message, "request_id: already used for a different batch");
});

test("a different batch under a used request_id leaves its 421s free: a later batch records them", async () => {
  const id = requestId("reused");
  const ingest = ingestOf(await open());
  await ingest.submit(received(encode(id, [record()])));
  const reused = encode(id, [record({ statusCode: MISDIRECTED, fetchId: "only-once" })]);
  assert.is((await kindOf(ingest.submit(received(reused)))).kind, "already_exists");
  const later = await ingestOf(await open()).submit(
    received(encode(requestId("later"), [record({ statusCode: MISDIRECTED, fetchId: "only-once" })])),
  );
  assert.is(later.acceptedCount, 1);
  assert.equal(later.rejections, []);
});

test("two batches under one request_id on two nodes at once: one is stored, the other is ALREADY_EXISTS and claims nothing", async () => {
  const id = requestId("race");
  const a = encode(id, [record({ statusCode: MISDIRECTED, fetchId: "race-a" })]);
  const b = encode(id, [record({ statusCode: MISDIRECTED, fetchId: "race-b" })]);
  const [ra, rb] = await Promise.allSettled([
    ingestOf(await open()).submit(received(a)),
    ingestOf(await open()).submit(received(b)),
  ]);
  const won = [ra, rb].filter((r) => r.status === "fulfilled");
  const lost = [ra, rb].flatMap((r) => (r.status === "rejected" ? [r.reason as DomainError] : []));
  assert.is(won.length, 1);
  assert.is(lost[0]?.kind, "already_exists");
  // The loser's detail fetch was never stored: a later batch may record it.
  const loser = ra.status === "rejected" ? "race-a" : "race-b";
  const later = await ingestOf(await open()).submit(
    received(encode(requestId("race"), [record({ statusCode: MISDIRECTED, fetchId: loser })])),
  );
  assert.is(later.acceptedCount, 1);
});

test("a retry after the first node died between the stream's ack and its request entry is answered from the stored copy", async () => {
  const log = await open();
  const id = requestId("crash");
  const past = Date.now() - 60_000;
  const bytes = encode(id, [record(), record({ statusCode: MISDIRECTED }), record({ fetchedAt: new Date(past + 1) })]);
  // What the dead node published: its clock, and one refusal the retry could not know of.
  const headers = contextHeaders({ nowMs: past, oldestMs: 0, denied: undefined, refused: [1] });
  await log.js.publish(SUBJECT, bytes, { msgID: id, headers });
  const res = await ingestOf(await open()).submit(received(bytes));
  assert.is(res.replayed, true);
  assert.is(res.acceptedCount, 2);
  assert.equal(
    res.rejections.map((r) => r.index),
    [1],
  );
  const info = await log.jsm.streams.info(STREAM);
  assert.is(info.state.messages, 1, "no second copy");
});

test("two copies of one request_id in the stream are stored once: the request entry decides which", async () => {
  const log = await open();
  const id = requestId("copies");
  const bytes = encode(id, [record(), record()]);
  const headers = () => contextHeaders({ nowMs: Date.now(), oldestMs: 0, denied: undefined, refused: [] });
  // A retry after the duplicate window published a second copy (the window is minutes: a new msgID stands for it).
  await log.js.publish(SUBJECT, bytes, { msgID: `${id}-1`, headers: headers() });
  await log.js.publish(SUBJECT, bytes, { msgID: `${id}-2`, headers: headers() });
  const store = new RecordingStore();
  const drainer = new Drainer(log, store, quiet);
  await drainer.start();
  await waitFor("the backlog to empty", async () => (await drainer.lag()).streamMessages === 0);
  await drainer.stop();
  assert.is(store.bySeq.size, 1);
  const entry = await findEntry(log.requests, id);
  assert.is(entry?.seq, [...store.bySeq.keys()][0]);
  assert.is(entry?.result.acceptedCount, 2);
});

test("a write that fails is retried and delivered, nothing lost or doubled", async () => {
  const log = await open();
  const ingest = ingestOf(log);
  for (let i = 0; i < 5; i++) await ingest.submit(received(encode(requestId("fail"), [record(), record()])));
  const store = new RecordingStore();
  store.failures = 2;
  const drainer = new Drainer(log, store, quiet, { retryMs: 50 });
  await drainer.start();
  await waitFor("all batches stored", () => store.bySeq.size === 5);
  await waitFor("the backlog to empty", async () => (await drainer.lag()).streamMessages === 0);
  await drainer.stop();
  assert.ok(store.writes >= 3);
  assert.is(
    [...store.bySeq.values()].reduce((n, b) => n + b.fetches.length, 0),
    10,
  );
});

test("a writer stopped while its group cannot be stored gives the group back to another writer", async () => {
  const log = await open();
  const ingest = ingestOf(log);
  for (let i = 0; i < 3; i++) await ingest.submit(received(encode(requestId("stop"), [record()])));
  const broken = new RecordingStore();
  broken.failures = Number.POSITIVE_INFINITY;
  const first = new Drainer(log, broken, quiet, { retryMs: 50 });
  await first.start();
  await waitFor("a failed write", () => broken.writes >= 2);
  await first.stop();
  const store = new RecordingStore();
  const second = new Drainer(log, store, quiet);
  await second.start();
  await waitFor("the other writer stored them", () => store.bySeq.size === 3);
  await second.stop();
  assert.is(broken.bySeq.size, 0);
});

test("a full log refuses a batch with UNAVAILABLE and a retry delay, and stores nothing of it", async () => {
  const log = await open({ maxStreamBytes: 4000 });
  const ingest = ingestOf(log);
  const many = () => Array.from({ length: 8 }, () => record({ statusCode: MISDIRECTED }));
  let refused: { id: string; bytes: Uint8Array; err: DomainError } | undefined;
  for (let i = 0; i < 20 && refused === undefined; i++) {
    const id = requestId("full");
    const bytes = encode(id, many());
    await ingest.submit(received(bytes)).catch((e: DomainError) => {
      refused = { id, bytes, err: e };
    });
  }
  if (refused === undefined) throw new Error("the log never filled up");
  assert.is(refused.err.kind, "unavailable");
  assert.ok((refused.err.retryAfterMs ?? 0) > 0);
  assert.is(await findEntry(log.requests, refused.id), undefined);
  const before = (await log.jsm.streams.info(STREAM)).state.messages;

  const store = new RecordingStore();
  const drainer = new Drainer(log, store, quiet);
  await drainer.start();
  await waitFor("the backlog stored", () => store.bySeq.size === before);
  // The retry gets the refused batch's claims as its own: every record is accepted.
  const res = await ingest.submit(received(refused.bytes));
  assert.equal([res.acceptedCount, res.rejectedCount, res.replayed], [8, 0, false]);
  await waitFor("the retry stored", () => store.bySeq.size === before + 1);
  await drainer.stop();
});

test("with the NATS server stopped, submit rejects with UNAVAILABLE promptly", async () => {
  const ingest = ingestOf(await open(), 3000);
  await nats.stop();
  const started = Date.now();
  const err = await kindOf(ingest.submit(received(encode(requestId("down"), [record()]))));
  assert.is(err.kind, "unavailable");
  assert.match(err.message, /retry with the same request_id/);
  assert.ok(Date.now() - started < 6000, `took ${Date.now() - started} ms`);
});

test("a 3-node cluster with 3 replicas still acknowledges batches after one node is killed", async () => {
  const cluster = await startNats({ nodes: 3 });
  try {
    const log = await open({ urls: cluster.urls, replicas: 3 });
    const ingest = ingestOf(log, 5000);
    assert.is((await ingest.submit(received(encode(requestId("c3"), [record()])))).acceptedCount, 1);
    cluster.kill(0);
    // A reporter retries UNAVAILABLE with the same request_id while the client reconnects and leaders move.
    const bytes = encode(requestId("c3"), [record(), record({ statusCode: MISDIRECTED })]);
    let res: IngestResult | undefined;
    const deadline = Date.now() + 30_000;
    while (res === undefined) {
      res = await ingest.submit(received(bytes)).catch((e: DomainError) => {
        if (e.kind !== "unavailable" || Date.now() > deadline) throw e;
        return undefined;
      });
    }
    assert.is(res.acceptedCount, 2);
    const store = new RecordingStore();
    const drainer = new Drainer(log, store, quiet);
    await drainer.start();
    await waitFor("both batches stored", () => store.bySeq.size === 2, 20_000);
    await drainer.stop();
  } finally {
    await Promise.all(logs.map((l) => l.close()));
    logs = [];
    await cluster.stop();
  }
});

test("throughput: acknowledged ingest and drain, batches of 1000 records, 8 in flight", async () => {
  const total = 100_000;
  const now = Date.now();
  const batches = new Workload(total, now - DAY_MS, DAY_MS - 60_000, 1000, `tp${process.pid}`).next(total);
  const log = await open();
  const ingest = ingestOf(log, 30_000);
  let next = 0;
  let accepted = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let b = batches[next++]; b !== undefined; b = batches[next++]) {
        const res = await ingest.submit(received(b.bytes, now));
        accepted += res.acceptedCount;
      }
    }),
  );
  const ingestS = (performance.now() - t0) / 1000;
  let drained = 0;
  const t1 = performance.now();
  const drainer = new Drainer(
    log,
    {
      prepare: (b: LoggedBatch) => b,
      write: async (bs) => {
        drained += bs.length;
      },
    },
    quiet,
  );
  await drainer.start();
  await waitFor("the backlog drained", () => drained === batches.length, 120_000);
  const drainS = (performance.now() - t1) / 1000;
  await drainer.stop();
  console.log(
    `ingest ${Math.round(total / ingestS)} records/s (${accepted} accepted), drain ${Math.round(total / drainS)} records/s`,
  );
  assert.ok(accepted > total * 0.9);
});

test.run();
