import { type ServiceError, status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { retryDelayMs, STATUS_DETAILS_KEY } from "../src/client/retry-info.js";
import type { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call, callError } from "./support/client.js";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { healthCheck } from "./support/health.js";
import { fetchCount } from "./support/load.js";
import { record, requestId } from "./support/records.js";
import { waitFor } from "./support/wait.js";

const INGEST = "webmasterid.crawldiag.v1.IngestService";
const DIAGNOSIS = "webmasterid.crawldiag.v1.DiagnosisService";
let cluster: TestCluster;
let databases = 0;
const database = () => `crawldiag_g${++databases}`;

test.before(async () => {
  cluster = await startCluster();
});
test.after(async () => {
  await cluster.close();
});

const batchOf = (host: string, n: number, tag = host): FetchRecord[] =>
  Array.from({ length: n }, (_, i) =>
    record({ url: `https://${host}/p${i}`, fetchId: `${tag}-${i}`, statusCode: i % 4 === 0 ? 421 : 200 }),
  );

// Servers restart in these tests: a node takes a few seconds to notice.
const until = (what: string, check: () => Promise<boolean>) => waitFor(what, check, 20_000);

test("a request_id sent again to another node returns the first answer, replayed, and counts once", async () => {
  const db = database();
  const [a, b] = [await cluster.node(db), await cluster.node(db)];
  try {
    const id = requestId("twice");
    const records = batchOf("twice.example.com", 40);
    const first = await call(a.ingest.recordFetches, a.ingest, { requestId: id, records });
    assert.is(first.acceptedCount, 40);
    const again = await call(b.ingest.recordFetches, b.ingest, { requestId: id, records });
    assert.equal(again, { ...first, replayed: true });
    const other = await callError(b.ingest.recordFetches, b.ingest, {
      requestId: id,
      records: batchOf("other.example.com", 3),
    });
    assert.is(other.code, status.ALREADY_EXISTS);
    assert.match(other.details, /^request_id:/);
    await a.drained();
    assert.is(await fetchCount(a, "twice.example.com"), 40);
    assert.is(await fetchCount(b, "twice.example.com"), 40, "the other node reads the same figure");
    assert.is(await fetchCount(a, "other.example.com"), 0);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("a 421 already recorded by another batch is refused on fetch_id, on any node, as SQLite refuses it", async () => {
  const db = database();
  const [a, b] = [await cluster.node(db), await cluster.node(db)];
  try {
    const records = batchOf("dup.example.com", 8);
    await call(a.ingest.recordFetches, a.ingest, { requestId: requestId("dup"), records });
    const res = await call(b.ingest.recordFetches, b.ingest, { requestId: requestId("dup"), records });
    // Records 0 and 4 are 421s, which keep their detail; the others only count.
    assert.is(res.acceptedCount, 6);
    assert.equal(
      res.rejections.map((r) => [r.index, r.field]),
      [
        [0, "fetch_id"],
        [4, "fetch_id"],
      ],
    );
    await a.drained();
    assert.is(await fetchCount(b, "dup.example.com"), 14);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("with ClickHouse stopped, batches are still acknowledged; started again, the backlog drains exactly", async () => {
  const node = await cluster.node(database());
  try {
    await cluster.clickhouse.stop();
    await until("the node reports DiagnosisService NOT_SERVING", async () => {
      return (await healthCheck(node.diagnosis, DIAGNOSIS)) === "NOT_SERVING";
    });
    assert.is(await healthCheck(node.ingest, INGEST), "SERVING", "ingest needs only the log");
    let sent = 0;
    for (let i = 0; i < 5; i++) {
      const res = await call(node.ingest.recordFetches, node.ingest, {
        requestId: requestId("down"),
        records: batchOf("down.example.com", 30, `down-${i}`),
      });
      assert.is(res.acceptedCount, 30);
      sent += 30;
    }
    const waiting = await call(node.status.getServiceStatus, node.status, {});
    assert.not.ok(waiting.storeReachable);
    assert.ok(waiting.backlogBatches >= 1, `backlog ${waiting.backlogBatches}`);
    const query = await callError(node.diagnosis.getHostStats, node.diagnosis, {
      host: "down.example.com",
      window: undefined,
      bucket: 0,
    });
    assert.is(query.code, status.UNAVAILABLE);
    await cluster.clickhouse.start();
    await node.drained(60_000);
    assert.is(await fetchCount(node, "down.example.com"), sent);
    await until("DiagnosisService is SERVING again", async () => {
      return (await healthCheck(node.diagnosis, DIAGNOSIS)) === "SERVING";
    });
  } finally {
    await node.close();
  }
});

test("with NATS down, IngestService is NOT_SERVING and refuses with UNAVAILABLE; back up, it serves again", async () => {
  const node = await cluster.node(database());
  try {
    cluster.nats.kill();
    await until("the node reports IngestService NOT_SERVING", async () => {
      return (await healthCheck(node.ingest, INGEST)) === "NOT_SERVING";
    });
    const refused = await callError(node.ingest.recordFetches, node.ingest, {
      requestId: requestId("nonats"),
      records: batchOf("nonats.example.com", 5),
    });
    assert.is(refused.code, status.UNAVAILABLE);
    assert.match(refused.details, /retry/);
    await cluster.nats.start();
    await until("IngestService is SERVING again", async () => {
      return (await healthCheck(node.ingest, INGEST)) === "SERVING";
    });
    const id = requestId("nonats");
    const records = batchOf("nonats.example.com", 5);
    await until("a batch is acknowledged again", async () => {
      const res = await call(node.ingest.recordFetches, node.ingest, { requestId: id, records });
      return res.acceptedCount === 5;
    });
    await node.drained();
    assert.is(await fetchCount(node, "nonats.example.com"), 5);
  } finally {
    await node.close();
  }
});

test("a full log answers UNAVAILABLE with a RetryInfo delay and stores nothing of the refused batch", async () => {
  const db = database();
  // A writer-less node: nothing drains, so the 1 MiB log fills up.
  const node = await cluster.node(db, { CRAWLDIAG_ROLES: "ingest,query", CRAWLDIAG_NATS_MAX_MB: "1" });
  let refused: ServiceError | undefined;
  try {
    for (let i = 0; i < 100 && refused === undefined; i++) {
      const id = requestId("full");
      try {
        await call(node.ingest.recordFetches, node.ingest, {
          requestId: id,
          records: batchOf(`full${i}.example.com`, 1000, `full-${i}`),
        });
      } catch (e) {
        refused = e as ServiceError;
      }
    }
    assert.ok(refused, "the log never filled up");
    assert.is(refused.code, status.UNAVAILABLE);
    const details = refused.metadata.get(STATUS_DETAILS_KEY)[0];
    assert.ok(details instanceof Buffer, "grpc-status-details-bin is set");
    assert.ok((retryDelayMs(details) ?? 0) > 0, "a RetryInfo delay");
  } finally {
    await node.close();
    // The log is shared by the file's tests: a writer empties it before the next one.
    const writer = await cluster.node(db);
    await writer.drained(60_000);
    await writer.close();
  }
});

test("query nodes agree: the same list from either node, and a node without the query role does not serve it", async () => {
  const db = database();
  const [a, b] = [await cluster.node(db), await cluster.node(db, { CRAWLDIAG_ROLES: "query" })];
  const ingestOnly = await cluster.node(db, { CRAWLDIAG_ROLES: "ingest" });
  try {
    for (let i = 0; i < 6; i++) {
      const records = Array.from({ length: 12 }, (_, j) =>
        record({
          url: `https://h${i}.agree.example/`,
          statusCode: j < 4 ? 421 : 200,
          connection: { tlsServerName: j < 4 ? "www.agree.example" : `h${i}.agree.example` },
        }),
      );
      await call(ingestOnly.ingest.recordFetches, ingestOnly.ingest, { requestId: requestId("agree"), records });
    }
    await a.drained();
    const list = { window: undefined, kinds: [], hostSuffix: "", includeResolved: true, pageSize: 3, pageToken: "" };
    const pageA = await call(a.diagnosis.listHostDiagnoses, a.diagnosis, list);
    const pageB = await call(b.diagnosis.listHostDiagnoses, b.diagnosis, list);
    assert.is(pageA.diagnoses.length, 3);
    assert.equal(pageA, pageB);
    // A page token from one node continues on the other.
    const nextB = await call(b.diagnosis.listHostDiagnoses, b.diagnosis, { ...list, pageToken: pageA.nextPageToken });
    const nextA = await call(a.diagnosis.listHostDiagnoses, a.diagnosis, { ...list, pageToken: pageA.nextPageToken });
    assert.equal(nextA, nextB);
    const hosts = [...pageA.diagnoses, ...nextA.diagnoses].map((d) => d.host);
    assert.is(new Set(hosts).size, 6, "every host once over two pages");
    const notServed = await callError(ingestOnly.diagnosis.getHostStats, ingestOnly.diagnosis, {
      host: "h0.agree.example",
      window: undefined,
      bucket: 0,
    });
    assert.is(notServed.code, status.UNIMPLEMENTED);
  } finally {
    await Promise.all([a.close(), b.close(), ingestOnly.close()]);
  }
});

test("a query node keeps list pages only while nothing is written: a write stored through another node shows at once", async () => {
  const db = database();
  const [writer, reader] = [await cluster.node(db), await cluster.node(db, { CRAWLDIAG_ROLES: "query" })];
  // Coalesced 421s on several days and connections, enough to recur, and own-connection answers.
  const send = async (host: string, day: number, n: number) => {
    const records = Array.from({ length: n }, (_, j) =>
      record({
        url: `https://${host}/d${day}-${j}`,
        fetchedAt: new Date(Date.now() - day * 86_400_000 - j * 1000),
        statusCode: j % 2 === 0 ? 421 : 200,
        connection: { tlsServerName: j % 2 === 0 ? "www.kept.example" : host, connectionId: `d${day}c${j}` },
      }),
    );
    await call(writer.ingest.recordFetches, writer.ingest, { requestId: requestId("kept"), records });
    await writer.drained();
  };
  const list = { window: undefined, kinds: [], hostSuffix: "", includeResolved: true, pageSize: 10, pageToken: "" };
  const page = () => call(reader.diagnosis.listHostDiagnoses, reader.diagnosis, list);
  const misdirected = async (host: string) =>
    (await page()).diagnoses.find((d) => d.host === host)?.misdirectedCount ?? 0;
  try {
    for (const day of [1, 2, 3]) await send("a.kept.example", day, 8);
    await send("b.kept.example", 1, 8);
    const first = await page();
    assert.equal(await page(), first, "nothing written: the same page");
    assert.is(await misdirected("a.kept.example"), 12);
    for (const day of [1, 4]) await send("a.kept.example", day, 6);
    assert.is(await misdirected("a.kept.example"), 18, "the writes through the other node are counted");
    await send("c.kept.example", 2, 4);
    const after = await page();
    assert.ok(
      after.diagnoses.some((d) => d.host === "c.kept.example"),
      "a host with new 421s joins the list",
    );
    assert.equal(after, await call(writer.diagnosis.listHostDiagnoses, writer.diagnosis, list), "both nodes agree");
  } finally {
    await Promise.all([writer.close(), reader.close()]);
  }
});

test.run();
