import { test } from "uvu";
import * as assert from "uvu/assert";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call } from "./support/client.js";
import { requestId } from "./support/records.js";
import { loadScenarios, mismatches } from "./support/scenarios.js";
import { startTestServer } from "./support/server.js";

const scenarios = loadScenarios();

test("the scenario folder holds scenarios", () => {
  assert.ok(scenarios.length >= 8, `only ${scenarios.length} scenario files`);
});

for (const sc of scenarios) {
  test(`scenario ${sc.name}: every expected host gets its kind and evidence through the gRPC API`, async () => {
    // The scenarios are dated 2026: retention off, so none of them is too old.
    const s = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0", CRAWLDIAG_MAX_BATCH: "10000" });
    try {
      const res = await call(s.ingest.recordFetches, s.ingest, {
        requestId: requestId(sc.name),
        records: sc.records.map((r) => FetchRecord.fromJSON(r)),
      });
      assert.equal(res.rejections, [], "every scenario record is valid");
      const window = { startTime: new Date(sc.window.startTime), endTime: new Date(sc.window.endTime) };
      const found: string[] = [];
      for (const e of sc.expect) {
        const { diagnosis } = await call(s.diagnosis.getHostDiagnosis, s.diagnosis, { host: e.host, window });
        assert.ok(diagnosis, e.host);
        found.push(...mismatches(e, diagnosis));
      }
      assert.equal(found, [], `${sc.file}:\n${found.join("\n")}`);
    } finally {
      await s.close();
    }
  });
}

test.run();
