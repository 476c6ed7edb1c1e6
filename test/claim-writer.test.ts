import { test } from "uvu";
import * as assert from "uvu/assert";
import { startNats, type TestNats } from "../src/dev/nats-server.js";
import { logError } from "../src/store/nats/errors.js";
import { CLAIMS_BUCKET, connectLog, type NatsLog } from "../src/store/nats/setup.js";

let nats: TestNats;
let log: NatsLog;
const holder = Buffer.from("request-1 digest");

test.before(async () => {
  nats = await startNats();
  log = await connectLog(nats.urls, { replicas: 1, retentionDays: 90 });
});
test.after(async () => {
  await log.close();
  await nats.stop();
});

test("many keys are created at once, each answered with its revision, in the order given", async () => {
  const got = await log.claimWriter.create(["a1", "a2", "a3"], holder);
  assert.is(got.length, 3);
  for (const [i, key] of ["a1", "a2", "a3"].entries()) {
    const e = await log.claims.get(key);
    assert.is(e?.revision, got[i], key);
    assert.is(e?.string(), "request-1 digest");
  }
});

test("a key that already has a value is taken, and keeps its value", async () => {
  await log.claims.put("b1", "someone else");
  const [taken, fresh] = await log.claimWriter.create(["b1", "b2"], holder);
  assert.is(taken, "taken");
  assert.type(fresh, "number");
  assert.is((await log.claims.get("b1"))?.string(), "someone else");
});

test("no keys need no round trip", async () => {
  assert.equal(await log.claimWriter.create([], holder), []);
});

test("without the claims bucket the call fails, and ingest answers it UNAVAILABLE", async () => {
  await log.jsm.streams.delete(`KV_${CLAIMS_BUCKET}`);
  const err = await log.claimWriter.create(["c1"], holder).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, "rejected");
  assert.is(logError(err).kind, "unavailable");
});

test.run();
