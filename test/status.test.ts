import { credentials } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GetServiceStatusResponse, StatusServiceClient } from "../src/gen/webmasterid/crawldiag/v1/status.js";
import { cli } from "./support/cli.js";
import { call } from "./support/client.js";
import { healthCheck } from "./support/health.js";
import { record, requestId } from "./support/records.js";
import { startTestServer } from "./support/server.js";

test("GetServiceStatus names the SQLite file, every role, its size and an empty backlog", async () => {
  const s = await startTestServer();
  const client = new StatusServiceClient(`127.0.0.1:${s.port}`, credentials.createInsecure());
  try {
    await call(s.ingest.recordFetches, s.ingest, { requestId: requestId("status"), records: [record()] });
    const res = await call(client.getServiceStatus, client, {});
    assert.is(res.store, "sqlite");
    assert.is(res.location, s.dbPath);
    assert.equal(res.roles, ["ingest", "query", "writer"]);
    assert.ok(res.storeBytes > 0, "the file has a size");
    assert.is(res.backlogBatches, 0);
    assert.is(res.writerLagSeconds, 0);
    assert.ok(res.storeReachable);
    assert.not.ok(res.logReachable, "SQLite has no log");
    assert.is(await healthCheck(client, "webmasterid.crawldiag.v1.StatusService"), "SERVING");
  } finally {
    client.close();
    await s.close();
  }
});

test("`crawldiag status` prints the store and the backlog, and --json the proto3 JSON", async () => {
  const s = await startTestServer();
  try {
    const plain = await cli(["status", "--address", `127.0.0.1:${s.port}`]);
    assert.is(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, `store       sqlite ${s.dbPath} (reachable)`);
    assert.match(plain.stdout, /backlog\s+0 batches not yet stored/);
    assert.match(plain.stdout, /writer lag\s+0\.0 s/);
    const json = await cli(["status", "--json", "--address", `127.0.0.1:${s.port}`]);
    const parsed = GetServiceStatusResponse.fromJSON(JSON.parse(json.stdout));
    assert.is(parsed.store, "sqlite");
    assert.equal(parsed.roles, ["ingest", "query", "writer"]);
  } finally {
    await s.close();
  }
});

test.run();
