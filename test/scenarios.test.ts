import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { call } from "./support/client.js";
import { requestId } from "./support/records.js";
import { FIXTURE_FOLDER, loadScenarios, mismatches, scenarioFiles } from "./support/scenarios.js";
import { startTestServer } from "./support/server.js";

const scenarios = loadScenarios();

test("the scenario folder holds scenarios", () => {
  assert.ok(scenarios.length >= 8, `only ${scenarios.length} scenario files`);
});

test("the project's own fixtures hold every case, the revised rules' ones included, without ../shared", () => {
  const own = loadScenarios([FIXTURE_FOLDER]);
  assert.ok(own.length >= 11, `only ${own.length} fixture files`);
  const names = own.map((s) => s.file);
  for (const file of ["coalescing-refused.json", "pooled-edge-routing.json", "trailing-dot-sni.json"]) {
    assert.ok(names.includes(file), `${file} is missing from test/fixtures/scenarios`);
  }
  for (const s of own) assert.ok(s.expect.length > 0 && s.records.length > 0, `${s.file} is empty`);
});

test("scenario folders: sorted by file name, the later folder wins a name clash, a missing folder is skipped", () => {
  const root = mkdtempSync(join(tmpdir(), "crawldiag-scenarios-"));
  try {
    const folder = (name: string, files: string[]) => {
      mkdirSync(join(root, name));
      for (const f of files) writeFileSync(join(root, name, f), "{}");
      return pathToFileURL(join(root, name, "/"));
    };
    const fixtures = folder("fixtures", ["b.json", "c.json", "notes.txt"]);
    const shared = folder("shared", ["c.json", "a.json"]);
    const missing = pathToFileURL(join(root, "absent", "/"));
    const found = scenarioFiles([fixtures, shared, missing]).map((u) => u.href.slice(pathToFileURL(root).href.length));
    assert.equal(found, ["/shared/a.json", "/fixtures/b.json", "/shared/c.json"]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
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
