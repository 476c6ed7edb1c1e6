import { join } from "node:path";
import Database from "better-sqlite3";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DiagnosisKind as K } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { MIGRATIONS } from "../src/store/sqlite/schema.js";
import { call } from "./support/client.js";
import { startTestServer, tempDir } from "./support/server.js";
import { JUNE } from "./support/traffic.js";

const HOUR = 3_600_000;
const JUNE_2 = Date.UTC(2026, 5, 2, 10);

/**
 * A database written by the version before fetch_daily and retry_statuses (schema 2): a host whose 421s came on
 * connections opened for www and were retried, and whose own connections answered 200.
 */
function schema2(path: string): void {
  const db = new Database(path);
  for (const m of MIGRATIONS.slice(0, 2)) db.exec(m);
  db.pragma("user_version = 2");
  db.exec(`INSERT INTO hosts (id, name) VALUES (1, 'api.old.example'); INSERT INTO crawlers (id, name) VALUES (1, 'fleet-a');
    INSERT INTO addresses (id, addr) VALUES (1, '192.0.2.1');`);
  const hourly = db.prepare(
    `INSERT INTO fetch_hourly (hour, host_id, status, protocol, conn_kind, address_id, count) VALUES (?, 1, ?, 2, ?, 1, ?)
     ON CONFLICT DO UPDATE SET count = count + excluded.count`,
  );
  const detail =
    db.prepare(`INSERT INTO fetch_detail (host_id, crawler_id, fetch_id, time_ms, status, protocol, conn_kind,
      artifact, connection_id, sni, address_id, via_alt_svc, retry_of) VALUES (1, 1, ?, ?, ?, 2, ?, 0, ?, ?, 1, 0, ?)`);
  for (let i = 0; i < 4; i++) {
    const t = JUNE_2 + (i % 2) * 24 * HOUR + i * 1000;
    detail.run(`f${i}`, t, 421, 2, `c${i}`, "www.old.example", null);
    detail.run(`r${i}`, t + 500, 200, 1, `c${i}-retry`, "api.old.example", `f${i}`);
    hourly.run(Math.floor(t / HOUR), 421, 2, 1);
    hourly.run(Math.floor(t / HOUR), 200, 1, 1);
  }
  hourly.run(Math.floor(JUNE_2 / HOUR) + 1, 200, 1, 30);
  db.close();
}

test("a schema-2 database is migrated: daily figures and retries come out as before", async () => {
  const dir = tempDir();
  schema2(join(dir, "crawldiag.db"));
  const s = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0" }, dir);
  try {
    const { diagnosis: d } = await call(s.diagnosis.getHostDiagnosis, s.diagnosis, {
      host: "api.old.example",
      window: JUNE,
    });
    assert.is(d?.kind, K.DIAGNOSIS_KIND_CONNECTION_COALESCING);
    assert.equal([d?.fetchCount, d?.retriedCount, d?.retryRecoveredCount], [38, 4, 4]);
    assert.equal(
      d?.addresses.map((a) => [a.address, a.ownFetchCount, a.answeredCount]),
      [["192.0.2.1", 34, 34]],
    );
  } finally {
    await s.close();
  }
});

test.run();
