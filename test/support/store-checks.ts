import { isIP } from "node:net";
import Database from "better-sqlite3";
import * as assert from "uvu/assert";
import { normaliseQueryHost } from "../../src/domain/host.js";

/**
 * Reads the database file itself and checks that every stored row is one the contract allows (proto comments),
 * that the file is sound, and that it holds exactly the accepted records and stored requests.
 */
export function assertStoredValid(dbPath: string, expected: { records: number; requests: number }): void {
  const db = new Database(dbPath, { readonly: true });
  try {
    assert.is(db.pragma("integrity_check", { simple: true }), "ok");
    const count = (sql: string) => Number(db.prepare(sql).pluck().get() ?? 0);
    assert.is(count("SELECT SUM(count) FROM fetch_hourly"), expected.records, "stored = accepted, each once");
    assert.is(count("SELECT COUNT(*) FROM requests"), expected.requests);
    const badHourly = "count < 1 OR status NOT BETWEEN 100 AND 599 OR protocol NOT BETWEEN 0 AND 3";
    assert.is(count(`SELECT COUNT(*) FROM fetch_hourly WHERE ${badHourly}`), 0, "invalid fetch_hourly rows");

    const texts = (sql: string) => db.prepare(sql).pluck().all() as string[];
    const hosts = texts("SELECT name FROM hosts");
    assert.ok(hosts.length > 0);
    for (const h of hosts) assert.ok(normaliseQueryHost(h) === h && !/[/?#@\s]/.test(h), `host ${h}`);
    for (const c of texts("SELECT name FROM crawlers")) assert.match(c, /^[A-Za-z0-9._:/-]{1,64}$/);
    for (const a of texts("SELECT addr FROM addresses")) assert.ok(a === "" || isIP(a) !== 0, `address ${a}`);

    const now = Date.now();
    assert.ok(count("SELECT COUNT(*) FROM fetch_detail") > 0, "no detail rows to check");
    // GLOB '*[^!-~]*' finds a character outside printable ASCII without space.
    const badDetail = `length(fetch_id) NOT BETWEEN 1 AND 128 OR fetch_id GLOB '*[^!-~]*'
      OR status NOT BETWEEN 100 AND 599 OR (status <> 421 AND retry_of IS NULL)
      OR retry_of = fetch_id OR length(retry_of) > 128 OR retry_of GLOB '*[^!-~]*'
      OR length(connection_id) > 128 OR connection_id GLOB '*[^!-~]*'
      OR time_ms > ${now + 5 * 60_000} OR time_ms < ${now - 91 * 86_400_000}`;
    assert.is(count(`SELECT COUNT(*) FROM fetch_detail WHERE ${badDetail}`), 0, "invalid fetch_detail rows");
  } finally {
    db.close();
  }
}
