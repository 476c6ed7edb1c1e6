import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CopySource } from "../src/cli/copy-source.js";
import { startClickHouse, type TestClickHouse } from "../src/dev/clickhouse-server.js";
import { listAlerts } from "../src/domain/alerts.js";
import { Kind } from "../src/domain/diagnosis.js";
import { DiagnosisCache } from "../src/domain/diagnosis-cache.js";
import { hostDiagnosis, listDiagnoses } from "../src/domain/listing.js";
import type { ReadStore } from "../src/domain/read-store.js";
import { Bucket, hostStats } from "../src/domain/stats.js";
import { DEFAULT_THRESHOLDS } from "../src/domain/thresholds.js";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { copySeq } from "../src/store/clickhouse/copy.js";
import { ClickHouseStore } from "../src/store/clickhouse/store.js";
import { openDb } from "../src/store/sqlite/db.js";
import { Reader } from "../src/store/sqlite/reader.js";
import { cli } from "./support/cli.js";
import { call } from "./support/client.js";
import { requestId } from "./support/records.js";
import { loadScenarios } from "./support/scenarios.js";
import { ROOT, startTestServer, type TestServer, tempDir } from "./support/server.js";
import { coalesced, JUNE, own, unreported } from "./support/traffic.js";

const NOW = JUNE.endTime.getTime();
const DAY = 86_400_000;
const WINDOWS = [
  { startTime: JUNE.startTime, endTime: JUNE.endTime },
  // Partial days at both ends: ClickHouse reads their hours from fetch_hourly, the whole days from fetch_daily.
  { startTime: new Date(JUNE.startTime.getTime() + 13 * 3_600_000), endTime: new Date(NOW - 10 * DAY - 5 * 3_600_000) },
];
let ch: TestClickHouse;
let dir: string;
let dbPath: string;
let databases = 0;

// June traffic with 421s, refusals and retries (some retried with 421 again) on many days, beside the scenarios.
const traffic = (tag: string) => [
  ...own(`vh.${tag}.example`, 9, { status: 421, days: 5 }),
  ...own(`edge.${tag}.example`, 6, { status: 421, address: "192.0.2.1", days: 4 }),
  ...own(`edge.${tag}.example`, 8, { address: "192.0.2.2", days: 4 }),
  ...coalesced(`api.${tag}.example`, `www.${tag}.example`, 6, { retries: [200, 421, 200, 421, 200, 200], days: 6 }),
  ...coalesced(`refused.${tag}.example`, `www.${tag}.example`, 3, { status: 403, days: 3 }),
  ...unreported(`unknown.${tag}.example`, 4, { status: 421 }),
  ...own(`www.${tag}.example`, 40, { days: 25, firstDay: 2 }),
];

async function send(s: TestServer, name: string, records: FetchRecord[]): Promise<void> {
  const res = await call(s.ingest.recordFetches, s.ingest, { requestId: requestId(name), records });
  assert.equal(res.rejections, [], `${name}: every record is valid`);
}

/** A SQLite store filled through the real service, stopped: the scenarios and June traffic. */
async function filledStore(tags: string[], withScenarios: boolean, into = tempDir()): Promise<string> {
  // The records are dated June 2026: retention off, so none of them is too old.
  const s = await startTestServer({ CRAWLDIAG_RETENTION_DAYS: "0", CRAWLDIAG_MAX_BATCH: "10000" }, into);
  try {
    if (withScenarios) {
      for (const sc of loadScenarios())
        await send(
          s,
          sc.name,
          sc.records.map((r) => FetchRecord.fromJSON(r)),
        );
    }
    for (const tag of tags) await send(s, `traffic-${tag}`, traffic(tag));
  } finally {
    await s.stop();
  }
  return s.dbPath;
}

test.before(async () => {
  ch = await startClickHouse();
  dir = tempDir();
  dbPath = await filledStore(["a", "b"], true, dir);
});
test.after(async () => {
  await ch.close();
  rmSync(dir, { recursive: true, force: true });
});

const target = () => `${ch.url}/copy_t${++databases}`;
const copy = (to: string, db = dbPath, extra: string[] = []) => cli(["copy-store", "--to", to, "--db", db, ...extra]);
const sqlite = (path = dbPath) => new Reader(openDb(path, { sync: "NORMAL", readonly: true }));

/**
 * The hosts whose diagnosis and stats are compared one by one: three expected ones of each scenario, the June
 * traffic's and every 10th other host (the lists below cover every host's diagnosis anyway, and each host costs queries).
 */
function hostsOf(path: string): string[] {
  const db = openDb(path, { sync: "NORMAL", readonly: true });
  try {
    const expected = new Set(loadScenarios().flatMap((sc) => sc.expect.slice(0, 3).map((e) => e.host)));
    const all = db.prepare("SELECT name FROM hosts ORDER BY name").pluck().all() as string[];
    return all.filter((h, i) => expected.has(h) || /^[a-z]+\.[a-d]\.example$/.test(h) || i % 10 === 0);
  } finally {
    db.close();
  }
}

/** What the queries answer through a store: diagnoses, hourly and daily stats, the full list and the alerts. */
async function figures(fresh: () => ReadStore, hosts: readonly string[]) {
  const out: Record<string, unknown> = {};
  for (const [i, window] of WINDOWS.entries()) {
    const ctx = () => ({ store: fresh(), rules: DEFAULT_THRESHOLDS, cache: new DiagnosisCache() });
    for (const host of hosts) {
      out[`${i} ${host}`] = {
        diagnosis: await hostDiagnosis(ctx(), host, window, NOW),
        hourly: await hostStats(fresh(), { host, window, bucket: Bucket.HOUR }, NOW, 30),
        daily: await hostStats(fresh(), { host, window, bucket: Bucket.DAY }, NOW, 30),
      };
    }
    const page = { window, hostSuffix: "", includeResolved: true, pageSize: 1000, pageToken: "" };
    out[`${i} list`] = await listDiagnoses(ctx(), { ...page, kinds: [] }, NOW);
    out[`${i} every host`] = await listDiagnoses(ctx(), { ...page, kinds: Object.values(Kind) }, NOW);
    out[`${i} alerts`] = await listAlerts(fresh(), { window, crawler: "", pageSize: 1000, pageToken: "" }, NOW, 30);
  }
  return out;
}

/** SQLite's totals, read from the file itself. */
function sqliteCounts(path = dbPath): { fetches: number; detail: number } {
  const db = openDb(path, { sync: "NORMAL", readonly: true });
  try {
    const one = (sql: string) => Number(db.prepare(sql).pluck().get() ?? 0);
    return { fetches: one("SELECT SUM(count) FROM fetch_hourly"), detail: one("SELECT COUNT(*) FROM fetch_detail") };
  } finally {
    db.close();
  }
}

/** Both stores answer every query the same, and count the same fetches and detail rows. */
async function assertSameAnswers(url: string, path = dbPath): Promise<void> {
  const store = await ClickHouseStore.open(url);
  try {
    assert.equal(await store.counts(), sqliteCounts(path));
    const hosts = hostsOf(path);
    const reader = sqlite(path);
    assert.equal(await figures(() => store.reads(), hosts), await figures(() => reader, hosts));
  } finally {
    await store.close();
  }
}

test("copy-store copies the store, and ClickHouse then gives the same diagnoses, stats, lists and alerts", async () => {
  const url = target();
  const run = await copy(url);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /^copied \d+ days \([\d,]+ fetches, [\d,]+ detail rows\)/);
  assert.match(run.stdout, /checked: [\d,]+ fetches, [\d,]+ detail rows and the totals of each of \d+ days/);
  assert.match(run.stderr, /copy-store: 2026-06-\d\d copied/);
  await assertSameAnswers(url);

  const again = await copy(url);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /(\d+) days of data; \1 already copied to .*, 0 to copy/);
  assert.not.match(again.stdout, /^copied/);
  await assertSameAnswers(url);
});

/** copy-store as a child process, SIGKILLed as soon as it reports its first copied day. */
function copyKilledAfterFirstDay(url: string): Promise<string> {
  const child = spawn(
    process.execPath,
    // Small inserts: the kill may well land between two inserts of a day.
    ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "copy-store", "--to", url, "--db", dbPath, "--piece-rows", "20"],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr.on("data", (b: Buffer) => {
    err += b.toString();
    if (/ copied, /.test(err)) child.kill("SIGKILL");
  });
  return new Promise((resolve) => child.on("close", () => resolve(err)));
}

test("killed after its first day and run again, it finishes the copy and counts every fetch once", async () => {
  const url = target();
  const killed = await copyKilledAfterFirstDay(url);
  assert.match(killed, / copied, /);
  assert.not.match(killed, /checked/);
  const resumed = await copy(url);
  assert.is(resumed.code, 0, resumed.stderr);
  const [, days, done] = /(\d+) days of data; (\d+) already copied/.exec(resumed.stderr) ?? [];
  assert.ok(Number(done) >= 1 && Number(done) < Number(days), resumed.stderr);
  await assertSameAnswers(url);
});

test("a day half written when a run crashed gets only its missing rows, under a new seq, none twice", async () => {
  const url = target();
  const store = await ClickHouseStore.open(url);
  const source = CopySource.open(dbPath);
  try {
    // What a crash mid-day leaves: the day's seq in the ledger, then only some of its rows.
    const [day] = [...source.days().keys()].slice(3);
    assert.ok(day !== undefined);
    const seq = copySeq(day, 0);
    const half = <T>(rows: Iterable<T>) => [...rows].filter((_, i) => i % 2 === 0);
    await store.recordSeqs([seq]);
    await store.insertAll({
      fetch_hourly: half(source.hourly(day)).map((r) => ({ ...r, seq })),
      fetch_daily: half(source.daily(day)).map((r) => ({ ...r, seq })),
      fetch_detail: half(source.detail(day)),
      fetch_retry: [],
    });
    const run = await copy(url);
    assert.is(run.code, 0, run.stderr);
    await assertSameAnswers(url);
    // The rest went under revision 1; no seq was written twice, so reads need no deduplication of copies.
    const ledger = await (
      await fetch(
        `${ch.url}/?query=${encodeURIComponent(
          `SELECT seq, count() AS n FROM ${url.split("/").pop()}.fetch_batch WHERE seq IN (${seq}, ${seq + 1}) GROUP BY seq ORDER BY seq FORMAT TSV`,
        )}`,
      )
    ).text();
    assert.is(ledger, `${seq}\t1\n${seq + 1}\t1\n`);
  } finally {
    source.close();
    await store.close();
  }
});

test("after the service stored more, a new run copies the days that changed, and the counts still match", async () => {
  const own = tempDir();
  try {
    const path = await filledStore(["c"], false, own);
    const url = target();
    const first = await copy(url, path);
    assert.is(first.code, 0, first.stderr);
    // The service runs on the same file again and stores traffic of new hosts and more of the known ones.
    await filledStore(["c", "d"], false, own);
    const second = await copy(url, path);
    assert.is(second.code, 0, second.stderr);
    assert.match(second.stderr, /already copied to .*, [1-9]\d* to copy/);
    await assertSameAnswers(url, path);
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
});

test("a wrong password exits non-zero and says why, without ever printing the password", async () => {
  const url = `${ch.urlWithCredentials.replace(":secret@", ":hunter2-wrong@")}/copy_t${++databases}`;
  const run = await copy(url);
  assert.is(run.code, 1);
  assert.match(run.stderr, /^copy-store: .*(password|Authentication)/i);
  assert.not.match(run.stdout + run.stderr, "hunter2");
  // The right one works, and is not printed either.
  const good = await copy(`${ch.urlWithCredentials}/copy_t${++databases}`);
  assert.is(good.code, 0, good.stderr);
  assert.not.match(good.stdout + good.stderr, "secret");
});

test("a missing SQLite file or an unreachable ClickHouse exits 1 naming the problem; --help says to stop the service", async () => {
  const missing = await copy(target(), join(dir, "absent.db"));
  assert.is(missing.code, 1);
  assert.match(missing.stderr, `no SQLite store at ${join(dir, "absent.db")}`);
  const down = await copy("http://u:pw-not-shown@127.0.0.1:1/crawldiag");
  assert.is(down.code, 1);
  assert.match(down.stderr, /ECONNREFUSED/);
  assert.not.match(down.stderr, "pw-not-shown");
  const help = await cli(["copy-store", "--help"]);
  assert.match(help.stdout, "stop the service first");
  assert.match(help.stdout, "--to <url>");
});

test.run();
