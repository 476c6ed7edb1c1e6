import { test } from "uvu";
import * as assert from "uvu/assert";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call } from "./support/client.js";
import { type ClusterNode, startCluster, type TestCluster } from "./support/cluster.js";
import { requestId } from "./support/records.js";
import { loadScenarios, mismatches } from "./support/scenarios.js";
import { startTestServer } from "./support/server.js";

// Every scenario, and the seeded random set among them, through the gRPC API of a cluster-mode node: the same
// diagnoses as the files expect, and the very same answers as the embedded SQLite store gives.
const scenarios = loadScenarios();
let cluster: TestCluster;

test.before(async () => {
  cluster = await startCluster();
});
test.after(async () => {
  await cluster.close();
});

scenarios.forEach((sc, i) => {
  test(`cluster mode, scenario ${sc.name}: the expected diagnoses, identical to SQLite's`, async () => {
    // One database and one log per scenario: the files reuse fetch ids, which the log remembers.
    const nats = await (await import("../src/dev/nats-server.js")).startNats();
    let node: ClusterNode | undefined;
    const lite = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0", CRAWLDIAG_MAX_BATCH: "10000" });
    try {
      node = await cluster.node(`crawldiag_scenario_${i}`, {
        CRAWLDIAG_NATS_URL: nats.urls.join(","),
        CRAWLDIAG_RETENTION_DAYS: "0",
        CRAWLDIAG_MAX_BATCH: "10000",
      });
      const records = sc.records.map((r) => FetchRecord.fromJSON(r));
      const id = requestId(sc.name);
      const res = await call(node.ingest.recordFetches, node.ingest, { requestId: id, records });
      assert.equal(res.rejections, [], "every scenario record is valid");
      const liteRes = await call(lite.ingest.recordFetches, lite.ingest, { requestId: id, records });
      assert.equal(res, liteRes, "the same ingest answer as SQLite");
      await node.drained();
      const window = { startTime: new Date(sc.window.startTime), endTime: new Date(sc.window.endTime) };
      const found: string[] = [];
      for (const e of sc.expect) {
        const { diagnosis } = await call(node.diagnosis.getHostDiagnosis, node.diagnosis, { host: e.host, window });
        assert.ok(diagnosis, e.host);
        found.push(...mismatches(e, diagnosis));
        const fromLite = await call(lite.diagnosis.getHostDiagnosis, lite.diagnosis, { host: e.host, window });
        assert.equal(diagnosis, fromLite.diagnosis, `${e.host}: same diagnosis as SQLite`);
        const stats = { host: e.host, window, bucket: 2 };
        assert.equal(
          await call(node.diagnosis.getHostStats, node.diagnosis, stats),
          await call(lite.diagnosis.getHostStats, lite.diagnosis, stats),
          `${e.host}: same stats as SQLite`,
        );
      }
      assert.equal(found, [], `${sc.file}:\n${found.join("\n")}`);
      const list = { window, kinds: [], hostSuffix: "", includeResolved: true, pageSize: 1000, pageToken: "" };
      assert.equal(
        await call(node.diagnosis.listHostDiagnoses, node.diagnosis, list),
        await call(lite.diagnosis.listHostDiagnoses, lite.diagnosis, list),
        "the same list as SQLite",
      );
      const alerts = { window, crawler: "", pageSize: 100, pageToken: "" };
      assert.equal(
        await call(node.diagnosis.listCrawlerAlerts, node.diagnosis, alerts),
        await call(lite.diagnosis.listCrawlerAlerts, lite.diagnosis, alerts),
        "the same crawler alerts as SQLite",
      );
    } finally {
      await node?.close();
      await lite.close();
      await nats.stop();
    }
  });
});

test.run();
