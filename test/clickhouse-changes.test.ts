import { createClient } from "@clickhouse/client";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startClickHouse, type TestClickHouse } from "../src/dev/clickhouse-server.js";
import type { Window } from "../src/domain/diagnosis.js";
import { DiagnosisCache } from "../src/domain/diagnosis-cache.js";
import { listDiagnoses } from "../src/domain/listing.js";
import { DEFAULT_THRESHOLDS } from "../src/domain/thresholds.js";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { VersionedCache } from "../src/store/clickhouse/changes.js";
import { prepareBatch } from "../src/store/clickhouse/raw.js";
import { ClickHouseStore } from "../src/store/clickhouse/store.js";
import { fetchesOf } from "./support/fetches.js";
import { record } from "./support/records.js";
import { coalesced, JUNE, own } from "./support/traffic.js";

let ch: TestClickHouse;
let databases = 0;
let seq = 0;
const W: Window = { startMs: JUNE.startTime.getTime(), endMs: JUNE.endTime.getTime() };

test.before(async () => {
  ch = await startClickHouse();
});
test.after(async () => {
  await ch.close();
});

const write = (store: ClickHouseStore, records: FetchRecord[]) =>
  store.write([prepareBatch({ seq: ++seq, fetches: fetchesOf(records.map((r) => FetchRecord.toJSON(r))) })]);

/** A list page through what the node keeps, and the same page computed from nothing. */
async function pages(store: ClickHouseStore, lists: VersionedCache) {
  const query = { window: JUNE, kinds: [], hostSuffix: "", includeResolved: true, pageSize: 1000, pageToken: "" };
  const kept = await lists.at(store);
  const page = await listDiagnoses(
    { store: store.reads(kept.ids), rules: DEFAULT_THRESHOLDS, cache: kept.cache },
    query,
    W.endMs,
  );
  const fresh = { store: store.reads(), rules: DEFAULT_THRESHOLDS, cache: new DiagnosisCache() };
  return { kept, page, fromScratch: await listDiagnoses(fresh, query, W.endMs) };
}

/** The hosts whose diagnoses the node kept for the window. */
const keptHosts = (kept: Awaited<ReturnType<VersionedCache["at"]>>) =>
  [...kept.cache.entry(W).diagnoses.keys()].map((id) => kept.ids.nameOf(id)).sort();

const misdirected = (page: Awaited<ReturnType<typeof listDiagnoses>>, host: string) =>
  page.diagnoses.find((d) => d.host === host)?.misdirectedCount;

test("a write drops the diagnoses of the hosts it touched and no other; pages equal a computation from nothing", async () => {
  const store = await ClickHouseStore.open(`${ch.url}/crawldiag_c${++databases}`);
  try {
    const lists = new VersionedCache();
    await write(store, [
      ...own("a.example", 6, { status: 421, days: 3 }),
      ...own("b.example", 6, { status: 421, days: 3, address: "192.0.2.7" }),
      ...coalesced("c.example", "www.example", 4),
      ...own("quiet.example", 5),
    ]);
    const first = await pages(store, lists);
    assert.equal(first.page, first.fromScratch);
    assert.equal(keptHosts(first.kept), ["a.example", "b.example", "c.example"]);
    assert.equal(keptHosts(await lists.at(store)), ["a.example", "b.example", "c.example"], "nothing written");

    await write(store, [...own("a.example", 3, { status: 421, days: 2 }), ...own("quiet.example", 2)]);
    const touched = await lists.at(store);
    assert.equal(keptHosts(touched), ["b.example", "c.example"], "a.example is diagnosed again, the others kept");
    const second = await pages(store, lists);
    assert.equal(second.page, second.fromScratch);
    assert.is(misdirected(second.page, "a.example"), 9);

    // A host's first 421s make it a candidate of the kept window.
    await write(store, own("quiet.example", 4, { status: 421, days: 2 }));
    const third = await pages(store, lists);
    assert.equal(third.page, third.fromScratch);
    assert.is(misdirected(third.page, "quiet.example"), 4);
    assert.equal(keptHosts(third.kept), ["a.example", "b.example", "c.example", "quiet.example"]);

    // Traffic alone (b.example and c.example answered 200): their kept 421s hold, their traffic is read again.
    await write(store, [...own("b.example", 5, { address: "192.0.2.7" }), ...own("c.example", 2)]);
    const trafficOnly = await lists.at(store);
    const entry = trafficOnly.cache.entry(W);
    for (const host of ["b.example", "c.example"]) {
      const id = trafficOnly.ids.idOf(host);
      assert.ok(entry.details.has(id) && !entry.diagnoses.has(id), `${host}: 421s kept, diagnosis dropped`);
    }
    const fourth = await pages(store, lists);
    assert.equal(fourth.page, fourth.fromScratch);
    assert.is(fourth.page.diagnoses.find((d) => d.host === "b.example")?.fetchCount, 11);
  } finally {
    await store.close();
  }
});

test("a retry stored later changes the diagnosis of its original's host, even another host's", async () => {
  const store = await ClickHouseStore.open(`${ch.url}/crawldiag_c${++databases}`);
  try {
    const lists = new VersionedCache();
    const originals = coalesced("x.example", "www.example", 4);
    await write(store, [...originals, ...own("y.example", 3)]);
    const first = await pages(store, lists);
    assert.equal(keptHosts(first.kept), ["x.example"]);
    const retried = (page: typeof first.page) => page.diagnoses.find((d) => d.host === "x.example")?.retriedCount;
    assert.is(retried(first.page), 0);
    // Retried on another name (say, after a redirect), in a write of its own that touches y.example only.
    const [original] = originals;
    const retry = record({
      url: "https://y.example/",
      fetchedAt: new Date((original?.fetchedAt?.getTime() ?? 0) + 500),
      retryOf: original?.fetchId ?? "",
    });
    await write(store, [retry]);
    assert.equal(keptHosts(await lists.at(store)), [], "x.example is diagnosed again");
    const second = await pages(store, lists);
    assert.equal(second.page, second.fromScratch);
    assert.is(retried(second.page), 1);
  } finally {
    await store.close();
  }
});

test("a change the recent ones do not account for, or one that lists no hosts, drops everything kept", async () => {
  const db = `crawldiag_c${++databases}`;
  const store = await ClickHouseStore.open(`${ch.url}/${db}`);
  const raw = createClient({ url: ch.url, database: db });
  try {
    const lists = new VersionedCache();
    await write(store, [
      ...own("a.example", 6, { status: 421, days: 3 }),
      ...own("b.example", 6, { status: 421, days: 3 }),
    ]);
    const first = await pages(store, lists);
    assert.equal(keptHosts(first.kept), ["a.example", "b.example"]);
    // A change seen late (its writer's clock far behind, or its insert slow): only the checksum tells.
    const change = (write_id: number, changed_ms: number) =>
      raw.insert({ table: "store_changes", values: [{ write_id, changed_ms }], format: "JSONEachRow" });
    await change(5, 1000);
    assert.equal(keptHosts(await lists.at(store)), [], "everything dropped");
    const second = await pages(store, lists);
    assert.equal(second.page, second.fromScratch);
    assert.equal(keptHosts(second.kept), ["a.example", "b.example"]);
    // A change without its hosts: a purge, or a writer from before store_changed_hosts.
    await change(7, Date.now());
    assert.equal(keptHosts(await lists.at(store)), [], "everything dropped again");
  } finally {
    await raw.close();
    await store.close();
  }
});

test("the change log's count and checksum come from a row a day that follows every write, however many", async () => {
  const db = `crawldiag_c${++databases}`;
  const store = await ClickHouseStore.open(`${ch.url}/${db}`);
  const raw = createClient({ url: ch.url, database: db });
  const one = async <T>(query: string) => (await (await raw.query({ query, format: "JSONEachRow" })).json<T>())[0];
  try {
    for (const host of ["a.example", "b.example", "c.example"]) await write(store, own(host, 2, { status: 421 }));
    const log = await one<{ n: string; s: string }>("SELECT count() AS n, sum(write_id) AS s FROM store_changes");
    const now = await store.changes(0);
    assert.equal([now.count, now.sum], [3, BigInt(log?.s ?? -1)]);
    assert.is(now.recent.length, 3);
    await raw.command({ query: "OPTIMIZE TABLE store_changes_daily FINAL" });
    assert.equal(
      await one("SELECT count() AS days, sum(changes) AS n FROM store_changes_daily"),
      { days: "1", n: "3" },
      "UInt64s come as strings",
    );
    // Nothing since: no ids to read, and the same totals.
    const later = await store.changes(Date.now() + 3_600_000);
    assert.equal(later, { count: 3, sum: now.sum, last: 0, recent: [] });
  } finally {
    await raw.close();
    await store.close();
  }
});

test.run();
