import { test } from "uvu";
import * as assert from "uvu/assert";
import { DiagnosisKind as K } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import type { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call } from "./support/client.js";
import { requestId } from "./support/records.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { coalesced, JUNE, own } from "./support/traffic.js";

// Diagnoses are kept between calls (src/domain/diagnosis-cache.ts) and must never be stale: every answer after an
// acknowledged batch reflects it, as a computation from scratch would.
let s: TestServer;
test.before(async () => {
  s = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0" });
});
test.after(async () => s.close());

const send = async (records: FetchRecord[]) => {
  const res = await call(s.ingest.recordFetches, s.ingest, { requestId: requestId(), records });
  assert.equal(res.rejections, []);
};
const list = async (hostSuffix: string) =>
  (
    await call(s.diagnosis.listHostDiagnoses, s.diagnosis, {
      window: JUNE,
      kinds: [],
      hostSuffix,
      includeResolved: true,
      pageSize: 1000,
      pageToken: "",
    })
  ).diagnoses;
const get = async (host: string) =>
  (await call(s.diagnosis.getHostDiagnosis, s.diagnosis, { host, window: JUNE })).diagnosis;
const bad = (h: string, n: number, o: Parameters<typeof own>[2] = {}) => own(h, n, { status: 421, ...o });

test("a page asked again after new batches shows them: more 421s, a new host, more traffic", async () => {
  await send([...bad("a.cache.example", 3), ...own("a.cache.example", 10), ...bad("b.cache.example", 1)]);
  const first = await list("cache.example");
  assert.equal(
    first.map((d) => [d.host, d.kind, d.misdirectedCount, d.fetchCount]),
    [
      ["a.cache.example", K.DIAGNOSIS_KIND_VIRTUAL_HOST, 3, 13],
      ["b.cache.example", K.DIAGNOSIS_KIND_NOT_RECURRING, 1, 1],
    ],
  );
  await send([...bad("a.cache.example", 2), ...bad("c.cache.example", 4), ...own("b.cache.example", 5)]);
  const again = await list("cache.example");
  assert.equal(
    again.map((d) => [d.host, d.kind, d.misdirectedCount, d.fetchCount]),
    [
      ["a.cache.example", K.DIAGNOSIS_KIND_VIRTUAL_HOST, 5, 15],
      ["c.cache.example", K.DIAGNOSIS_KIND_VIRTUAL_HOST, 4, 4],
      ["b.cache.example", K.DIAGNOSIS_KIND_NOT_RECURRING, 1, 6],
    ],
  );
});

test("a host diagnosed once is diagnosed again after its next batch", async () => {
  await send(bad("d.cache.example", 2));
  assert.is((await get("d.cache.example"))?.kind, K.DIAGNOSIS_KIND_NOT_RECURRING);
  await send(bad("d.cache.example", 2));
  const d = await get("d.cache.example");
  assert.equal([d?.kind, d?.misdirectedCount], [K.DIAGNOSIS_KIND_VIRTUAL_HOST, 4]);
});

test("a retry counts whether it arrives before or after its 421, in another batch", async () => {
  const host = "retry.cache.example";
  const records = [...coalesced(host, "www.cache.example", 4, { retries: [200, 200, 200, 200] }), ...own(host, 30)];
  const retries = records.filter((r) => r.retryOf !== "");
  const rest = records.filter((r) => r.retryOf === "");
  // Two retries first, then every 421 (and the traffic), then the other two retries.
  await send(retries.slice(0, 2));
  await send(rest);
  assert.equal([(await get(host))?.retriedCount, (await get(host))?.retryRecoveredCount], [2, 2]);
  await send(retries.slice(2));
  const d = await get(host);
  assert.equal([d?.kind, d?.retriedCount, d?.retryRecoveredCount], [K.DIAGNOSIS_KIND_CONNECTION_COALESCING, 4, 4]);
});

test("a retry reported under another host still updates the host of its 421", async () => {
  const host = "moved.cache.example";
  await send([...coalesced(host, "www.cache.example", 3), ...own(host, 20)]);
  const before = await list("moved.cache.example");
  assert.equal(
    before.map((d) => d.retriedCount),
    [0],
  );
  // Crawlers that follow a redirect on retry report the retry's own URL; retry_of still names the 421.
  const first = (await get(host))?.misdirectedCount;
  assert.is(first, 3);
  const [x] = coalesced(host, "www.cache.example", 1);
  assert.ok(x);
  await send([x]);
  const retry = own("elsewhere.cache.example", 1)[0];
  assert.ok(retry);
  await send([{ ...retry, crawler: x.crawler, retryOf: x.fetchId }]);
  const after = await list("moved.cache.example");
  assert.equal(
    after.map((d) => [d.misdirectedCount, d.retriedCount, d.retryRecoveredCount]),
    [[4, 1, 1]],
  );
});

// Whichever call computed a kept diagnosis first, GetHostDiagnosis and the list give the same one, for a host with
// few and one with many 421s, and neither gives it past the host's next batch.
test("GetHostDiagnosis of a host with few and one with many 421s equals the list's, before and after new ones", async () => {
  const hosts = ["few.split.example", "many.split.example"];
  await send([...bad("few.split.example", 3), ...own("few.split.example", 4), ...bad("many.split.example", 1200)]);
  const same = async () => {
    const page = await list("split.example");
    assert.equal(
      await Promise.all(hosts.map(get)),
      hosts.map((h) => page.find((d) => d.host === h)),
    );
    return page.map((d) => [d.host, d.misdirectedCount]);
  };
  assert.equal(await same(), [
    ["many.split.example", 1200],
    ["few.split.example", 3],
  ]);
  await send([...bad("few.split.example", 1), ...bad("many.split.example", 5)]);
  assert.equal(await same(), [
    ["many.split.example", 1205],
    ["few.split.example", 4],
  ]);
});

test.run();
