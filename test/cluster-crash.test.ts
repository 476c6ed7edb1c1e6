import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClickHouseStore } from "../src/store/clickhouse/store.js";
import { call, connect } from "./support/client.js";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { type Batch, driveLoad, size, storedCount } from "./support/load.js";
import { Random } from "./support/random.js";
import { type ChildServer, spawnServer } from "./support/server.js";

// The cluster's SIGKILL suite. Seeded load from several clients goes to an ingest node; at seeded moments the
// writer is SIGKILLed (before, during or after an insert: wherever it happens to be) and started again, ClickHouse
// is SIGKILLed mid-insert and started again, and the ingest node itself is SIGKILLed (batches in the log whose
// answer never left). What was not acknowledged is resent to another node. Then every batch is stored exactly once.
const SEED = 0x5ca1_ab1e;
const ROUNDS = 4;
const CLIENTS = 4;
const MIN_RECORDS = 50;
const MAX_RECORDS = 400;
const DATABASE = "crawldiag_crash";

let cluster: TestCluster;
test.before(async () => {
  cluster = await startCluster();
});
test.after(async () => {
  await cluster.close();
});

test("SIGKILLed writers, ingest nodes and ClickHouse lose no acknowledged batch and count none twice", async () => {
  const env = (roles: string) => ({
    CRAWLDIAG_CLICKHOUSE_URL: `${cluster.clickhouse.url}/${DATABASE}`,
    CRAWLDIAG_NATS_URL: cluster.nats.urls.join(","),
    CRAWLDIAG_ROLES: roles,
    CRAWLDIAG_LOG: "off",
  });
  const seeds = new Random(SEED);
  const all: Batch[] = [];
  const kills = { writer: 0, ingest: 0, clickhouse: 0 };
  let writer: Promise<ChildServer> = spawnServer(env("writer"));
  const restarts: Promise<unknown>[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const ingest = await spawnServer(env("ingest"));
      const writerKillAt = seeds.int(2, 12);
      const clickhouseKillAt = round % 2 === 1 ? seeds.int(writerKillAt + 1, 20) : -1;
      const ingestKillAt = seeds.int(22, 40);
      const roundSeed = seeds.int(0, 2 ** 31);
      let stopped = false;
      const batches = await driveLoad({
        port: ingest.port,
        clients: CLIENTS,
        random: (client) => new Random(roundSeed + client),
        tag: `c${round}`,
        minRecords: MIN_RECORDS,
        maxRecords: MAX_RECORDS,
        onAck: (acks) => {
          if (acks === writerKillAt) {
            const dead = writer;
            writer = dead.then((w) => {
              w.child.kill("SIGKILL");
              kills.writer++;
              return w.exited.then(() => spawnServer(env("writer")));
            });
          }
          if (acks === clickhouseKillAt) {
            cluster.clickhouse.kill();
            kills.clickhouse++;
            restarts.push(new Promise((r) => setTimeout(r, 300)).then(() => cluster.clickhouse.start()));
          }
          if (acks === ingestKillAt) {
            stopped = true;
            ingest.child.kill("SIGKILL");
            kills.ingest++;
          }
        },
        stopped: () => stopped,
      });
      assert.ok(stopped, `round ${round}: the ingest node was never killed`);
      assert.is(await ingest.exited, "SIGKILL");
      await Promise.all(restarts.splice(0));
      all.push(...batches);
    }
    await writer;
    const node = await cluster.node(DATABASE);
    const c = connect(node.port);
    try {
      // Resent to another node: batches in the log whose answer was lost are replayed, never stored twice.
      let replayed = 0;
      for (const b of all.filter((x) => !x.acked)) {
        const res = await call(c.ingest.recordFetches, c.ingest, b.request);
        assert.is(res.acceptedCount, size(b), b.request.requestId);
        if (res.replayed) replayed++;
      }
      for (const b of all.filter((x) => x.acked).slice(0, 20)) {
        const res = await call(c.ingest.recordFetches, c.ingest, b.request);
        assert.ok(res.replayed, `${b.request.requestId}: acknowledged, so a resend is a replay`);
      }
      // Batches a killed writer had taken come back after the consumer's ack wait (30 s).
      await node.drained(90_000);
      for (const b of all) {
        assert.is(await storedCount(c, b), size(b), `${b.request.requestId}: fetches`);
        const { diagnosis } = await call(c.diagnosis.getHostDiagnosis, c.diagnosis, {
          host: b.host,
          window: undefined,
        });
        assert.is(diagnosis?.misdirectedCount, Math.ceil(size(b) / 4), `${b.request.requestId}: 421s kept once`);
      }
      const total = all.reduce((s, b) => s + size(b), 0);
      const store = await ClickHouseStore.open(`${cluster.clickhouse.url}/${DATABASE}`);
      try {
        assert.equal(
          await store.counts(),
          { fetches: total, detail: all.reduce((s, b) => s + Math.ceil(size(b) / 4), 0) },
          "the store's totals are exactly the sum of all batches",
        );
      } finally {
        await store.close();
      }
      const acked = all.filter((b) => b.acked).length;
      process.stdout.write(
        `  cluster crash: ${kills.writer} writer, ${kills.clickhouse} ClickHouse and ${kills.ingest} ingest-node ` +
          `SIGKILLs; ${all.length} batches, ${acked} acknowledged, ${all.length - acked} resent ` +
          `(${replayed} were already in the log), ${total} records, each stored once\n`,
      );
    } finally {
      c.closeAll();
      await node.close();
    }
  } finally {
    const w = await writer.catch(() => undefined);
    w?.child.kill("SIGTERM");
    await w?.exited;
  }
});

test.run();
