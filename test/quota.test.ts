import { type ServiceError, status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { type Clients, call } from "./support/client.js";
import { healthCheck } from "./support/health.js";
import { record, requestId } from "./support/records.js";
import { startTestServer, tempDir } from "./support/server.js";

const HOST = "quota.example.com";

// A quarter of the records are 421s, so each batch writes per-fetch detail as well as the hourly counts.
const batchOf = (n: number): FetchRecord[] =>
  Array.from({ length: n }, (_, i) => record({ url: `https://${HOST}/p${i}`, statusCode: i % 4 === 0 ? 421 : 200 }));

const send = (c: Clients, id: string, records: FetchRecord[]) =>
  call(c.ingest.recordFetches, c.ingest, { requestId: id, records });

const stored = async (c: Clients): Promise<number> =>
  (await call(c.diagnosis.getHostStats, c.diagnosis, { host: HOST, window: undefined, bucket: 0 })).fetchCount;

test("past CRAWLDIAG_MAX_DB_MB ingest is RESOURCE_EXHAUSTED and stores nothing; reads go on; a larger quota resumes", async () => {
  const dir = tempDir();
  let s = await startTestServer({ CRAWLDIAG_MAX_DB_MB: "1" }, dir);
  let accepted = 0;
  let firstId = "";
  let refused: { id: string; records: FetchRecord[] } | undefined;
  try {
    for (let i = 0; i < 500 && refused === undefined; i++) {
      const id = requestId("quota");
      const records = batchOf(200);
      try {
        accepted += (await send(s, id, records)).acceptedCount;
        firstId ||= id;
      } catch (e) {
        const err = e as ServiceError;
        assert.is(err.code, status.RESOURCE_EXHAUSTED, err.message);
        refused = { id, records };
      }
    }
    assert.ok(refused !== undefined, "the quota was reached");
    assert.ok(accepted > 0, "batches were stored before the quota was reached");
    // Nothing of the refused batch is stored: the totals are exactly the acknowledged batches.
    assert.is(await stored(s), accepted);
    // Further batches are refused too; reads, health and replays of stored batches still answer.
    const again = await send(s, requestId("quota"), batchOf(10)).catch((e: ServiceError) => e);
    assert.is((again as ServiceError).code, status.RESOURCE_EXHAUSTED);
    assert.is(await healthCheck(s.ingest, ""), "SERVING");
    assert.is(await stored(s), accepted);
    const diagnosis = await call(s.diagnosis.getHostDiagnosis, s.diagnosis, { host: HOST, window: undefined });
    assert.is(diagnosis.diagnosis?.fetchCount, accepted);
    const replay = await send(s, firstId, batchOf(0)).catch((e: ServiceError) => e);
    assert.is((replay as ServiceError).code, status.ALREADY_EXISTS, "a known request_id is still recognised");
  } finally {
    await s.stop();
  }

  s = await startTestServer({ CRAWLDIAG_MAX_DB_MB: "1000" }, dir);
  try {
    const res = await send(s, refused.id, refused.records);
    assert.is(res.acceptedCount, refused.records.length);
    assert.is(res.replayed, false);
    assert.is(await stored(s), accepted + refused.records.length);
  } finally {
    await s.close();
  }
});

test.run();
