import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { diagnosisKindFromJSON, diagnosisKindToJSON } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call } from "./support/client.js";
import { requestId } from "./support/records.js";
import { startTestServer } from "./support/server.js";

// The shared worked cases, loaded from the folder so that new files are picked up without code changes.
const folder = fileURLToPath(new URL("../../shared/scenarios/", import.meta.url));

interface Expectation {
  host: string;
  kind: string;
  misdirectedCount?: number;
  coalescedFrom?: string[];
  affectedAddresses?: string[];
  excludedClientSideCount?: number;
}

interface Scenario {
  name: string;
  window: { startTime: string; endTime: string };
  records: unknown[];
  expect: Expectation[];
}

const files = readdirSync(folder).filter((f) => f.endsWith(".json"));

test("the scenario folder holds scenarios", () => {
  assert.ok(files.length >= 8, `only ${files.length} scenario files in ${folder}`);
});

for (const file of files) {
  const sc = JSON.parse(readFileSync(`${folder}${file}`, "utf8")) as Scenario;
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
      for (const e of sc.expect) {
        const { diagnosis: d } = await call(s.diagnosis.getHostDiagnosis, s.diagnosis, { host: e.host, window });
        assert.ok(d, e.host);
        const at = `${sc.name} / ${e.host}`;
        assert.is(diagnosisKindToJSON(d.kind), diagnosisKindToJSON(diagnosisKindFromJSON(e.kind)), `${at}: kind`);
        if (e.misdirectedCount !== undefined)
          assert.is(d.misdirectedCount, e.misdirectedCount, `${at}: misdirectedCount`);
        if (e.excludedClientSideCount !== undefined) {
          assert.is(d.excludedClientSideCount, e.excludedClientSideCount, `${at}: excludedClientSideCount`);
        }
        if (e.coalescedFrom !== undefined) {
          assert.equal(
            d.coalescedFrom.map((p) => p.host),
            e.coalescedFrom,
            `${at}: coalescedFrom`,
          );
        }
        if (e.affectedAddresses !== undefined) {
          // Addresses come most 421s first (the rules' order); the files list them by address.
          const affected = d.addresses.filter((a) => a.affected).map((a) => a.address);
          assert.equal(affected.sort(), [...e.affectedAddresses].sort(), `${at}: affectedAddresses`);
        }
      }
    } finally {
      await s.close();
    }
  });
}

test.run();
