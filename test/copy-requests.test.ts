import { status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startNats } from "../src/dev/nats-server.js";
import { ALREADY_RECORDED } from "../src/domain/ingest.js";
import type { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { cli } from "./support/cli.js";
import { call, callError } from "./support/client.js";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { fetchCount, makeBatch } from "./support/load.js";
import { record } from "./support/records.js";
import { startTestServer } from "./support/server.js";

let cluster: TestCluster;

test.before(async () => {
  cluster = await startCluster();
});
test.after(async () => {
  await cluster.close();
});

test("after copy-store --nats, a batch SQLite stored and a client resends to the cluster is a replay, and a 421 it stored sent again in a new batch is refused: each counted once", async () => {
  // Two batches stored by the embedded default, one answer of which the client never got.
  const sqlite = await startTestServer();
  const [first, lost] = [makeBatch("copied-1", 40), makeBatch("copied-2", 24)];
  const answers = [];
  for (const b of [first, lost]) answers.push(await call(sqlite.ingest.recordFetches, sqlite.ingest, b.request));
  await sqlite.stop();
  const database = "crawldiag_copied";
  const node = await cluster.node(database);
  const args = ["copy-store", "--to", `${cluster.clickhouse.url}/${database}`, "--db", sqlite.dbPath];
  try {
    const run = await cli([...args, "--nats", cluster.nats.urls.join(",")]);
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stderr, "request_ids of the last 7 days: 2 copied, 0 already there");
    // Every fourth record is a 421: 10 of the first batch, 6 of the lost one.
    assert.match(run.stderr, "claims of detail fetches: 16 copied, 0 already there");
    // The client resends what it got no answer for, now to the cluster: the first answer, replayed.
    const again = await call(node.ingest.recordFetches, node.ingest, lost.request);
    assert.equal(again, { ...answers[1], replayed: true });
    await node.drained();
    assert.is(await fetchCount(node, lost.host), 24, "counted once");
    assert.is(await fetchCount(node, first.host), 40);
    // The same request_id with other records is refused, as SQLite refuses it.
    const other = { ...first.request, records: first.request.records.slice(1) };
    assert.is((await callError(node.ingest.recordFetches, node.ingest, other)).code, status.ALREADY_EXISTS);
    // Copied again: the entries are there, nothing changes.
    const rerun = await cli([...args, "--nats", cluster.nats.urls.join(",")]);
    assert.is(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, "2 already there");
    assert.match(rerun.stderr, "claims of detail fetches: 0 copied, 16 already there");
    assert.is(await fetchCount(node, first.host), 40);
    // A new batch resends a 421 SQLite stored (same crawler and fetch_id) beside a fresh one: refused on fetch_id.
    const stored421 = first.request.records[4];
    assert.is(stored421?.statusCode, 421);
    const fresh = record({ url: `https://${first.host}/`, crawler: "load-bot", fetchId: "fresh-421", statusCode: 421 });
    const resent = { requestId: "after-move", records: [stored421 as FetchRecord, fresh] };
    const answer = await call(node.ingest.recordFetches, node.ingest, resent);
    assert.is(answer.acceptedCount, 1);
    assert.equal(
      answer.rejections.map((r) => [r.index, r.fetchId, r.field, r.reason]),
      [[0, "copied-1-4", "fetch_id", ALREADY_RECORDED]],
    );
    await node.drained();
    assert.is(await fetchCount(node, first.host), 41, "only the fresh record counted");
    // Exactly what SQLite answers for that batch (it is opened again after the copies, so they did not see it).
    const reopened = await startTestServer({}, sqlite.dir);
    try {
      assert.equal(answer, await call(reopened.ingest.recordFetches, reopened.ingest, resent));
    } finally {
      await reopened.stop();
    }
  } finally {
    await Promise.all([node.close(), sqlite.close()]);
  }
});

test("without --nats copy-store says that request_ids and claims were not copied; with a NATS that has no bucket it fails", async () => {
  const sqlite = await startTestServer();
  await call(sqlite.ingest.recordFetches, sqlite.ingest, makeBatch("uncopied", 4).request);
  await sqlite.stop();
  const args = ["copy-store", "--to", `${cluster.clickhouse.url}/crawldiag_uncopied`, "--db", sqlite.dbPath];
  const empty = await startNats();
  try {
    const plain = await cli(args);
    assert.is(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, "request_ids and claims not copied (no --nats)");
    // No node ever started on this NATS: the bucket is not made here, with settings only the nodes know.
    const run = await cli([...args, "--nats", empty.urls.join(",")]);
    assert.is(run.code, 1);
    assert.match(run.stderr, "start a cluster node on it once");
  } finally {
    await Promise.all([sqlite.close(), empty.stop()]);
  }
});

test.run();
