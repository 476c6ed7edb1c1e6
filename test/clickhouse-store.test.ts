import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@clickhouse/client";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startClickHouse, startClickHouseCluster, type TestClickHouse } from "../src/dev/clickhouse-server.js";
import { diagnose } from "../src/domain/classify.js";
import type { Window } from "../src/domain/diagnosis.js";
import { Kind } from "../src/domain/diagnosis.js";
import { DiagnosisCache } from "../src/domain/diagnosis-cache.js";
import type { Fetch } from "../src/domain/fetch.js";
import { hostDiagnosis, listDiagnoses } from "../src/domain/listing.js";
import type { ReadStore } from "../src/domain/read-store.js";
import { DEFAULT_THRESHOLDS } from "../src/domain/thresholds.js";
import { DAY_MS, resolveWindow } from "../src/domain/window.js";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { type PreparedBatch, prepareBatch } from "../src/store/clickhouse/raw.js";
import { schemaStatements } from "../src/store/clickhouse/schema.js";
import { int, str } from "../src/store/clickhouse/sql.js";
import { ClickHouseStore } from "../src/store/clickhouse/store.js";
import { openDb } from "../src/store/sqlite/db.js";
import { Reader } from "../src/store/sqlite/reader.js";
import { Writer } from "../src/store/sqlite/writer.js";
import { fetchesOf } from "./support/fetches.js";
import { loadScenarios } from "./support/scenarios.js";
import { coalesced, JUNE, own, unreported } from "./support/traffic.js";

let ch: TestClickHouse;
let dir: string;
let databases = 0;
const FAR_FUTURE = Date.parse("2100-01-01T00:00:00Z");

test.before(async () => {
  ch = await startClickHouse();
  dir = mkdtempSync(join(tmpdir(), "crawldiag-ch-sqlite-"));
});
test.after(async () => {
  await ch.close();
  rmSync(dir, { recursive: true, force: true });
});

const openStore = () => ClickHouseStore.open(`${ch.url}/crawldiag_t${++databases}`);

/** The fetches as the log would hold them, prepared as a writer stores them: batches of `size`, from `firstSeq`. */
function batchesOf(fetches: readonly Fetch[], size: number, firstSeq = 1): PreparedBatch[] {
  const out: PreparedBatch[] = [];
  for (let i = 0; i < fetches.length; i += size)
    out.push(prepareBatch({ seq: firstSeq + out.length, fetches: fetches.slice(i, i + size) }));
  return out;
}

function sqliteReader(fetches: Fetch[]): Reader {
  const db = openDb(join(dir, `s${++databases}.db`), { sync: "NORMAL" });
  new Writer(db).commitBatches([
    { requestId: "r1", digest: new Uint8Array(32), nowMs: FAR_FUTURE, fetches, rejections: [] },
  ]);
  return new Reader(db);
}

/** Everything a query node answers about some hosts over a window, through one store. */
async function figures(fresh: () => ReadStore, hosts: readonly string[], w: Window) {
  const ctx = () => ({ store: fresh(), rules: DEFAULT_THRESHOLDS, cache: new DiagnosisCache() });
  const window = { startTime: new Date(w.startMs), endTime: new Date(w.endMs) };
  const out: Record<string, unknown> = {};
  for (const host of hosts) {
    const store = fresh();
    const id = await store.findHost(host);
    if (id === undefined) {
      out[host] = "never seen";
      continue;
    }
    out[host] = {
      diagnosis: diagnose(await store.hostFacts(id, host, w), DEFAULT_THRESHOLDS),
      hourly: await store.hourlyStats(id, w),
      viaListing: await hostDiagnosis(ctx(), host, window, w.endMs),
    };
  }
  const list = (kinds: number[]) =>
    listDiagnoses(
      ctx(),
      { window, kinds, hostSuffix: "", includeResolved: true, pageSize: 1000, pageToken: "" },
      w.endMs,
    );
  out.list = await list([]);
  out.everyHost = await list(Object.values(Kind));
  const alerts = await fresh().alertRows(w);
  out.alerts = [...alerts].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return out;
}

test("string literals escape quotes, backslashes and control characters; integers must be safe", () => {
  assert.is(str("a'b\\c\n"), "'a\\'b\\\\c\\x0a'");
  assert.is(int(42), "42");
  assert.throws(() => int(1.5));
  assert.throws(() => int(2 ** 53));
});

test("the cluster DDL makes local tables on every node, Distributed ones sharded by host, replicated when asked", () => {
  const ddl = schemaStatements({ database: "cd", cluster: "main", replicated: true }).join("\n");
  assert.match(ddl, "CREATE TABLE IF NOT EXISTS cd.fetch_hourly_local ON CLUSTER main");
  assert.match(ddl, "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/cd/fetch_detail', '{replica}')");
  assert.match(ddl, "ENGINE = Distributed(main, cd, fetch_daily_local, cityHash64(host))");
  assert.match(ddl, "CREATE DATABASE IF NOT EXISTS cd ON CLUSTER main");
  const single = schemaStatements({ database: "cd" }).join("\n");
  assert.not.match(single, "ON CLUSTER");
  assert.not.match(single, "Distributed");
  assert.throws(() => schemaStatements({ database: "cd; DROP TABLE x" }));
});

test("writers' fetches go to a Null table whose views fill the local tables on every node", () => {
  const ddl = schemaStatements({ database: "cd", cluster: "main", replicated: true }).join("\n");
  assert.match(ddl, /CREATE TABLE IF NOT EXISTS cd\.fetch_raw_local ON CLUSTER main \([^)]*\) ENGINE = Null/);
  assert.match(ddl, "ENGINE = Distributed(main, cd, fetch_raw_local, cityHash64(host))");
  assert.match(
    ddl,
    /MATERIALIZED VIEW IF NOT EXISTS cd\.fetch_hourly_rollup ON CLUSTER main TO cd\.fetch_hourly_local/,
  );
  assert.match(ddl, /MATERIALIZED VIEW IF NOT EXISTS cd\.fetch_daily_rollup ON CLUSTER main TO cd\.fetch_daily_local/);
  assert.match(ddl, /FROM cd\.fetch_raw_local GROUP BY/);
});

test("a store made by the version before the views is brought up to date, and its new writes add up as SQLite's", async () => {
  const fetches = traffic();
  const database = `crawldiag_t${++databases}`;
  const client = createClient({ url: ch.url });
  try {
    for (const query of schemaStatements({ database }, 3)) await client.command({ query });
  } finally {
    await client.close();
  }
  const store = await ClickHouseStore.open(`${ch.url}/${database}`);
  try {
    await store.write(batchesOf(fetches, 10));
    const hosts = ["vh.shop.example", "edge.example.org", "api.example.org", "www.example.org"];
    assert.equal(
      await figures(() => store.reads(), hosts, JUNE_W),
      await figures(() => sqliteReader(fetches), hosts, JUNE_W),
    );
  } finally {
    await store.close();
  }
});

const scenarios = loadScenarios();
for (const sc of scenarios) {
  test(`scenario ${sc.name}: ClickHouse gives the same diagnoses, stats, lists and alerts as SQLite`, async () => {
    const fetches = fetchesOf(sc.records);
    const sqlite = sqliteReader(fetches);
    const store = await openStore();
    try {
      // Small batches in two groups: counts add up across batches, retries may land before their originals.
      const batches = batchesOf([...fetches].reverse(), 7);
      const half = Math.ceil(batches.length / 2);
      await store.write(batches.slice(0, half));
      await store.write(batches.slice(half));
      const w = resolveWindow(
        { startTime: new Date(sc.window.startTime), endTime: new Date(sc.window.endTime) },
        FAR_FUTURE,
        30,
      );
      const hosts = [...sc.expect.map((e) => e.host), "never.example"];
      const want = await figures(() => sqlite, hosts, w);
      const got = await figures(() => store.reads(), hosts, w);
      assert.equal(got, want);
    } finally {
      await store.close();
    }
  });
}

const JUNE_W: Window = { startMs: JUNE.startTime.getTime(), endMs: JUNE.endTime.getTime() };
// Several hosts, days and kinds of traffic, with retries, in June 2026 (as test/listing.test.ts).
const traffic = () =>
  fetchesOf(
    [
      ...own("vh.shop.example", 5, { status: 421, days: 3 }),
      ...own("edge.example.org", 4, { status: 421, address: "192.0.2.1" }),
      ...own("edge.example.org", 3, { address: "192.0.2.2" }),
      ...coalesced("api.example.org", "www.example.org", 4, { retries: [200, 421, 200, 200] }),
      ...own("api.example.org", 10, { days: 20 }),
      ...coalesced("refused.example.org", "www.example.org", 3, { status: 403 }),
      ...unreported("unknown.example.org", 4, { status: 421 }),
      ...own("www.example.org", 10, { days: 25, firstDay: 2 }),
    ].map((r) => FetchRecord.toJSON(r)),
  );

test("a sample of June traffic gives the same figures in both stores, over a month and over partial days", async () => {
  const fetches = traffic();
  const sqlite = sqliteReader(fetches);
  const store = await openStore();
  try {
    await store.write(batchesOf(fetches, 10));
    const hosts = ["vh.shop.example", "edge.example.org", "api.example.org", "refused.example.org", "www.example.org"];
    for (const w of [
      JUNE_W,
      { startMs: JUNE_W.startMs + 13 * 3_600_000, endMs: JUNE_W.startMs + 5 * DAY_MS - 3_600_000 },
    ]) {
      assert.equal(await figures(() => store.reads(), hosts, w), await figures(() => sqlite, hosts, w));
    }
  } finally {
    await store.close();
  }
});

test("writing the same batches again, grouped differently, changes no figure; a new seq adds up", async () => {
  const fetches = traffic();
  const store = await openStore();
  try {
    const batches = batchesOf(fetches, 9);
    await store.write(batches.slice(0, 3));
    await store.write(batches.slice(3));
    const hosts = ["vh.shop.example", "api.example.org", "refused.example.org"];
    const before = { counts: await store.counts(), figures: await figures(() => store.reads(), hosts, JUNE_W) };
    assert.equal(before.counts.fetches, fetches.length);
    await store.write([...batches].reverse());
    await store.write(batches.slice(1, 4));
    assert.equal({ counts: await store.counts(), figures: await figures(() => store.reads(), hosts, JUNE_W) }, before);
    const more = fetchesOf(own("vh.shop.example", 6, { status: 421, days: 3 }).map((r) => FetchRecord.toJSON(r)));
    await store.write([prepareBatch({ seq: 1000, fetches: more })]);
    const after = await store.counts();
    assert.equal(after, { fetches: fetches.length + 6, detail: before.counts.detail + 6 });
    const id = (await store.reads().findHost("vh.shop.example")) ?? -1;
    const facts = await store.reads().hostFacts(id, "vh.shop.example", JUNE_W);
    assert.is(facts.misdirected.length, 11);
  } finally {
    await store.close();
  }
});

test("a get after batches were rewritten since the node's last call counts each fetch once", async () => {
  // A get reads the host's facts beside findHost with the rewritten seqs the last call found: here none, stale.
  const store = await openStore();
  try {
    const batches = batchesOf(traffic(), 9);
    await store.write(batches);
    const window = { startTime: JUNE.startTime, endTime: JUNE.endTime };
    const get = (host: string) =>
      hostDiagnosis(
        { store: store.reads(), rules: DEFAULT_THRESHOLDS, cache: new DiagnosisCache() },
        host,
        window,
        JUNE_W.endMs,
      );
    const before = await get("vh.shop.example");
    assert.is(before.fetchCount, 5);
    await store.write(batches);
    assert.equal(await get("vh.shop.example"), before);
  } finally {
    await store.close();
  }
});

test("more rewritten batches than a query can list are deduplicated through a subquery", async () => {
  const store = await openStore();
  try {
    const one = fetchesOf(own("many.example", 1).map((r) => FetchRecord.toJSON(r)))[0] as Fetch;
    const batches = Array.from({ length: 5100 }, (_, i) =>
      prepareBatch({ seq: i + 1, fetches: [{ ...one, fetchId: `m${i}` }] }),
    );
    await store.write(batches);
    await store.write(batches);
    assert.equal(await store.counts(), { fetches: 5100, detail: 0 });
    const reads = store.reads();
    const id = (await reads.findHost("many.example")) ?? -1;
    assert.is((await reads.hostFacts(id, "many.example", JUNE_W)).fetchCount, 5100);
  } finally {
    await store.close();
  }
});

test("retention drops whole UTC days older than the period, whole weeks or within one, and nothing newer", async () => {
  const store = await openStore();
  try {
    const day = (d: number) => own(`d${d}.example`, 3, { status: 421, days: 1, firstDay: d });
    // May 20th (a week of its own), June 1st and 2nd (a Monday and Tuesday: the same week) and June 10th.
    const fetches = fetchesOf([...day(-12), ...day(0), ...day(1), ...day(9)].map((r) => FetchRecord.toJSON(r)));
    const version = async () => {
      const log = await store.changes(0);
      // groupArray gives no order.
      return { count: log.count, sum: log.sum, ids: [...log.recent].sort((a, b) => a - b) };
    };
    const empty = await version();
    assert.equal(empty, { count: 0, sum: 0n, ids: [] });
    await store.write(batchesOf(fetches, 3)); // a batch a day, so one hourly row a day
    const written = await version();
    assert.is(written.count, 1, "a write is a change (query nodes drop the diagnoses of the hosts it touched)");
    const hosts = ["d-12.example", "d0.example", "d1.example", "d9.example"];
    const touched = await store.touched(written.ids, 0);
    assert.equal(
      { ...touched, hosts: touched.hosts.sort(), detail: touched.detail.sort() },
      { hosts, detail: hosts, whole: 1, more: false },
    );
    assert.ok((await store.touched(written.ids, 0, 3)).more, "more hosts than asked for are told apart");
    const now = JUNE_W.startMs + 10 * DAY_MS + 5 * 3_600_000;
    // 9 days back from June 11th 05:00 is June 2nd 05:00: June 1st goes whole, June 2nd stays whole.
    const purged = await store.purge(now, 9);
    // Rows, not fetches (as SQLite's purge): one hourly row holds a day's 3 fetches of one host and hour.
    assert.equal(purged, { hourly: 2, detail: 6, requests: 0 });
    const afterPurge = await version();
    assert.is(afterPurge.count, 2, "so is a purge that deleted something");
    const purgeId = afterPurge.ids.filter((id) => !written.ids.includes(id));
    assert.is((await store.touched(purgeId, 0)).whole, 0, "and it lists no hosts: query nodes drop everything");
    assert.equal(await store.counts(), { fetches: 6, detail: 6 });
    const reads = store.reads();
    assert.is(await reads.findHost("d-12.example"), undefined);
    assert.is(await reads.findHost("d0.example"), undefined);
    const d1 = (await reads.findHost("d1.example")) ?? -1;
    assert.is((await reads.hostFacts(d1, "d1.example", JUNE_W)).misdirected.length, 3);
    assert.equal(await store.purge(now, 0), { hourly: 0, detail: 0, requests: 0 });
    assert.equal(await store.purge(now, 9), { hourly: 0, detail: 0, requests: 0 });
    assert.equal(await version(), afterPurge, "and nothing else is");
  } finally {
    await store.close();
  }
});

test("hosts with quotes and backslashes reach ClickHouse as data, never as SQL", async () => {
  const store = await openStore();
  const client = createClient({ url: ch.url });
  try {
    const weird = "a'b\\c\n\t\u0000\u007f'; DROP TABLE x; --é";
    const rs = await client.query({ query: `SELECT ${str(weird)} AS s`, format: "JSONEachRow" });
    assert.equal(await rs.json(), [{ s: weird }]);
    const reads = store.reads();
    assert.is(await reads.findHost("x' OR 1=1 --"), undefined);
    assert.is(await reads.findHost("\\'"), undefined);
    assert.equal(await reads.hourlyStats(0, JUNE_W), []);
  } finally {
    await client.close();
    await store.close();
  }
});

test("a URL with credentials connects as that user; a wrong password fails at open", async () => {
  const store = await ClickHouseStore.open(`${ch.urlWithCredentials}/crawldiag_creds`);
  assert.ok(await store.ping());
  await store.close();
  const wrong = ch.urlWithCredentials.replace("secret", "wrong");
  await ClickHouseStore.open(`${wrong}/crawldiag_creds`).then(
    () => assert.unreachable("opened with a wrong password"),
    (e: Error) => assert.match(e.message, /password|Authentication/i),
  );
});

test("a write during a ClickHouse restart fails, and written again afterwards counts once", async () => {
  const fetches = traffic();
  const store = await openStore();
  try {
    const batches = batchesOf(fetches, 10);
    await store.write(batches.slice(0, 2));
    ch.kill();
    assert.is(await store.ping(), false);
    await store.write(batches.slice(2)).then(
      () => assert.unreachable("wrote to a dead server"),
      () => undefined,
    );
    await ch.start();
    assert.ok(await store.ping());
    await store.write(batches.slice(1));
    assert.equal((await store.counts()).fetches, fetches.length);
  } finally {
    await store.close();
  }
});

test("on a 2-shard replicated cluster: the same figures as SQLite from either node, a host on one shard", async () => {
  const cluster = await startClickHouseCluster(2);
  const opts = { cluster: cluster.name, replicated: true };
  const urls = cluster.nodes.map((n) => `${n.url}/crawldiag_c`);
  const stores: ClickHouseStore[] = [];
  try {
    for (const url of urls) stores.push(await ClickHouseStore.open(url, opts));
    const [a, b] = stores as [ClickHouseStore, ClickHouseStore];
    const fetches = traffic();
    const batches = batchesOf(fetches, 10);
    await a.write(batches);
    // Redelivered through the other node, grouped differently.
    await b.write(batches.slice(2, 5).reverse());
    const sqlite = sqliteReader(fetches);
    const hosts = ["vh.shop.example", "edge.example.org", "api.example.org", "refused.example.org"];
    const want = await figures(() => sqlite, hosts, JUNE_W);
    for (const store of stores) {
      assert.equal(await figures(() => store.reads(), hosts, JUNE_W), want);
      assert.is((await store.counts()).fetches, fetches.length);
      // Both writes, whichever shard holds their change rows, with every host each touched.
      const log = await store.changes(0);
      assert.is(log.count, 2);
      const touched = await store.touched(log.recent, 0);
      assert.is(touched.whole, 2);
      assert.equal(touched.hosts.sort(), [...new Set(fetches.map((f) => f.host))].sort());
    }
    const local: Set<string>[] = [];
    for (const n of cluster.nodes) {
      const client = createClient({ url: n.url });
      const rs = await client.query({
        query: "SELECT DISTINCT host FROM crawldiag_c.fetch_hourly_local",
        format: "JSONEachRow",
      });
      local.push(new Set((await rs.json<{ host: string }>()).map((r) => r.host)));
      await client.close();
    }
    const [one, two] = local as [Set<string>, Set<string>];
    assert.ok(one.size > 0 && two.size > 0, "both shards hold hosts");
    assert.equal(
      [...one].filter((h) => two.has(h)),
      [],
      "no host on both shards",
    );
  } finally {
    for (const s of stores) await s.close();
    await cluster.close();
  }
});

test.run();
