import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { call, connect } from "./support/client.js";
import { record, requestId } from "./support/records.js";
import { spawnServer, tempDir } from "./support/server.js";

const CANARY = "c4n4ryZq";
const urls = [
  `https://user${CANARY}:pw${CANARY}@priv.example.com/`,
  `https://priv.example.com/${CANARY}/path`,
  `https://priv.example.com/?q=${CANARY}`,
  `https://priv.example.com/#${CANARY}`,
  `http://priv.example.com:8080/a;${CANARY}`,
];

test("no part of a URL but its origin reaches the database, its WAL, or the logs", async () => {
  const dir = tempDir();
  const server = await spawnServer({ CRAWLDIAG_DB: join(dir, "crawldiag.db"), CRAWLDIAG_LOG: "info" });
  const c = connect(server.port);
  try {
    // Ordinary fetches, 421s and retries (which keep per-fetch detail), and rejected records.
    const records = urls.flatMap((url, i) => [
      record({ url }),
      record({ url, statusCode: 421, fetchId: `m${i}` }),
      record({ url, statusCode: 200, retryOf: `m${i}` }),
      record({ url, statusCode: 1 }),
    ]);
    records.push(record({ url: `https://bad host ${CANARY}/` }), record({ url: `ftp://x/${CANARY}` }));
    const res = await call(c.ingest.recordFetches, c.ingest, { requestId: requestId(), records });
    assert.is(res.acceptedCount, urls.length * 3);
    assert.not.match(JSON.stringify(res), CANARY);
    const st = await call(c.diagnosis.getHostStats, c.diagnosis, {
      host: "priv.example.com",
      window: undefined,
      bucket: 0,
    });
    assert.is(st.fetchCount, 12);
  } finally {
    c.closeAll();
    server.child.kill("SIGTERM");
    await server.exited;
  }
  const files = readdirSync(dir);
  assert.ok(files.includes("crawldiag.db"));
  for (const f of files) {
    const bytes = readFileSync(join(dir, f));
    assert.is(bytes.indexOf(CANARY), -1, `${f} holds the canary`);
    assert.is(bytes.indexOf("user"), -1, `${f} holds user-info`);
  }
  assert.ok(server.stderr().includes('"msg":"rpc"'), "the server logged its calls");
  assert.not.match(server.stderr(), CANARY);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
