import { rmSync } from "node:fs";
import { join } from "node:path";
import { type ServiceError, status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { RecordFetchesResponse } from "../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { type Clients, call, connect } from "./support/client.js";
import { makeBatch, size, storedCount } from "./support/load.js";
import { type ChildServer, spawnServer, tempDir } from "./support/server.js";

// Deadlines far shorter than sending and committing a batch of the largest default size takes.
const DEADLINES_MS = [1, 2, 5, 10, 20, 40, 80];
const RECORDS = 5000;
const TWINS = 3;

let dir = "";
let server: ChildServer;
let c: Clients;

test.before(async () => {
  dir = tempDir();
  server = await spawnServer({ CRAWLDIAG_DB: join(dir, "crawldiag.db"), CRAWLDIAG_LOG: "off" });
  c = connect(server.port);
});

test.after(async () => {
  c.closeAll();
  server.child.kill("SIGTERM");
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

const outcome = (p: Promise<RecordFetchesResponse>) =>
  p.then(
    (res) => ({ code: status.OK, res }),
    (e: ServiceError) => ({ code: e.code, res: undefined }),
  );

test("a call that missed its deadline may still commit: the retry returns the stored result, counted once", async () => {
  let expired = 0;
  let expiredButCommitted = 0;
  for (const ms of DEADLINES_MS) {
    const b = makeBatch(`deadline-${ms}ms`, RECORDS);
    const first = await outcome(call(c.ingest.recordFetches, c.ingest, b.request, { deadline: Date.now() + ms }));
    assert.ok(first.code === status.OK || first.code === status.DEADLINE_EXCEEDED, `${ms} ms: ${status[first.code]}`);
    // At once, as a client would: the first attempt may still be on its way to the commit.
    const retry = await call(c.ingest.recordFetches, c.ingest, b.request);
    assert.is(retry.acceptedCount, RECORDS, `${ms} ms`);
    if (first.code === status.OK) {
      assert.ok(retry.replayed, `${ms} ms: an acknowledged batch was not replayed`);
      assert.is(first.res?.acceptedCount, RECORDS);
    } else {
      expired++;
      if (retry.replayed) expiredButCommitted++;
    }
    const again = await call(c.ingest.recordFetches, c.ingest, b.request);
    assert.ok(again.replayed);
    assert.equal({ ...again, replayed: false }, { ...retry, replayed: false }, "the stored result, as first given");
    assert.is(await storedCount(c, b), size(b), `${ms} ms: counted once`);
  }
  process.stdout.write(
    `  deadline: ${DEADLINES_MS.length} batches of ${RECORDS}; ${expired} expired, ` +
      `${expiredButCommitted} of those had committed all the same\n`,
  );
  assert.ok(expired > 0, "no call expired: the deadlines are too long to test anything");
});

test("the same batch sent twice at once is stored once; one answer is the first, the other its replay", async () => {
  for (let i = 0; i < TWINS; i++) {
    const b = makeBatch(`twin-${i}`, RECORDS);
    const answers = await Promise.all([
      call(c.ingest.recordFetches, c.ingest, b.request),
      call(c.ingest.recordFetches, c.ingest, b.request),
    ]);
    assert.equal(answers.map((a) => a.replayed).sort(), [false, true]);
    for (const a of answers) assert.is(a.acceptedCount, RECORDS);
    assert.is(await storedCount(c, b), size(b));
  }
});

test.run();
