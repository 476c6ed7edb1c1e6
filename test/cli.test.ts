import { spawn } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DiagnosisKind } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { makePki } from "./support/certs-e2e.js";
import { cli } from "./support/cli.js";
import { call } from "./support/client.js";
import { record, requestId } from "./support/records.js";
import { ROOT, startTestServer, type TestServer, tempDir } from "./support/server.js";
import { startTlsServer, strictSni } from "./support/tls-servers.js";

const DAY_MS = 86_400_000;
let s: TestServer;
let address: string;

const ingest = (records: FetchRecord[]) =>
  call(s.ingest.recordFetches, s.ingest, { requestId: requestId("cli"), records });

async function stats(host: string): Promise<number> {
  return (await call(s.diagnosis.getHostStats, s.diagnosis, { host, window: undefined, bucket: 0 })).fetchCount;
}

test.before(async () => {
  s = await startTestServer();
  address = `127.0.0.1:${s.port}`;
  const now = Date.now();
  const records: FetchRecord[] = [];
  for (let day = 1; day <= 3; day++) {
    const fetchedAt = new Date(now - day * DAY_MS);
    // shop.example.com: 421 on connections opened for www.example.com, answered on its own retry.
    const coalesced = record({
      url: "https://shop.example.com/",
      statusCode: 421,
      fetchedAt,
      connection: { tlsServerName: "www.example.com", certificateCoversHost: true },
    });
    records.push(coalesced, record({ url: "https://shop.example.com/", fetchedAt, retryOf: coalesced.fetchId }));
    // old.example.org: 421 on its own connections, every day.
    records.push(record({ url: "https://old.example.org/", statusCode: 421, fetchedAt }));
  }
  records.push(
    record({
      crawler: "fleet-nosni",
      url: "https://misc.example.net/",
      statusCode: 421,
      connection: { tlsServerName: "" },
    }),
  );
  await ingest(records);
  const kind = async (host: string) =>
    DiagnosisKind[
      (await call(s.diagnosis.getHostDiagnosis, s.diagnosis, { host, window: undefined })).diagnosis?.kind ?? 0
    ];
  assert.is(await kind("shop.example.com"), "DIAGNOSIS_KIND_CONNECTION_COALESCING");
  assert.is(await kind("old.example.org"), "DIAGNOSIS_KIND_VIRTUAL_HOST");
});

test.after(() => s.close());

test("report: a plain table when piped, most severe first; --json, --suffix and --kind", async () => {
  const [plain, json, suffix, kind] = await Promise.all([
    cli(["report", "--address", address]),
    cli(["report", "--json"], { CRAWLDIAG_ADDRESS: address }),
    cli(["report", "--address", address, "--suffix", "example.com"]),
    cli(["report", "--address", address, "--kind", "virtual-host", "--json"]),
  ]);
  assert.is(plain.code, 0, plain.stderr);
  const lines = plain.stdout.trimEnd().split("\n");
  assert.match(lines[0] ?? "", /^HOST\s+KIND\s+421s\s+PEERS \/ ADDRESSES\s+LAST SEEN$/);
  assert.match(
    lines[1] ?? "",
    /^old\.example\.org\s+virtual host\s+3\s+at 192\.0\.2\.10 \(3\/3\)\s+\d{4}-\d\d-\d\d \d\d:\d\dZ$/,
  );
  assert.match(
    lines[2] ?? "",
    /^shop\.example\.com\s+connection coalescing\s+3\s+from www\.example\.com \(3\)\s+\d{4}-/,
  );
  assert.is(lines.length, 3);
  assert.not.match(plain.stdout, "\x1b[");

  assert.is(json.code, 0, json.stderr);
  const objects = json.stdout
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(
    objects.map((o) => [o.host, o.kind]),
    [
      ["old.example.org", "DIAGNOSIS_KIND_VIRTUAL_HOST"],
      ["shop.example.com", "DIAGNOSIS_KIND_CONNECTION_COALESCING"],
    ],
  );
  assert.is(objects[1].coalescedFrom[0].host, "www.example.com");
  assert.equal(
    suffix.stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/)[0]),
    ["shop.example.com"],
  );
  assert.equal(
    kind.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l).host),
    ["old.example.org"],
  );
});

test("report: colour on a terminal only", async () => {
  const tty = await cli(["report", "--address", address], {}, true);
  assert.is(tty.code, 0, tty.stdout);
  assert.ok(tty.stdout.includes("\x1b[31mvirtual host"), JSON.stringify(tty.stdout));
});

test("report: by default only the hosts someone must act on, COALESCING_REFUSED included; not isolated 421s", async () => {
  const day = (n: number) => new Date(Date.now() - n * DAY_MS);
  // once.example.net: one 421 (NOT_RECURRING); q.example.net: refused with 403 on p's connections, 200 on retry.
  const records = [record({ url: "https://once.example.net/", statusCode: 421, fetchedAt: day(1) })];
  for (const n of [1, 2, 3]) {
    const refused = record({
      url: "https://q.example.net/",
      statusCode: 403,
      fetchedAt: day(n),
      connection: { tlsServerName: "p.example.net", certificateCoversHost: true },
    });
    records.push(refused, record({ url: "https://q.example.net/", fetchedAt: day(n), retryOf: refused.fetchId }));
  }
  await ingest(records);
  const run = await cli(["report", "--address", address, "--suffix", "example.net"]);
  assert.is(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  assert.match(
    lines[1] ?? "",
    /^q\.example\.net\s+coalescing refused\s+0\s+refused with 403 from p\.example\.net \(3\)\s/,
    run.stdout,
  );
  assert.is(lines.length, 2, run.stdout);
});

test("report --all adds the hosts whose 421s do not recur, and --help says what is listed", async () => {
  // Reads the hosts the previous test stored.
  const [all, help] = await Promise.all([
    cli(["report", "--address", address, "--suffix", "example.net", "--all", "--json"]),
    cli(["report", "--help"]),
  ]);
  assert.is(all.code, 0, all.stderr);
  assert.equal(
    all.stdout
      .trimEnd()
      .split("\n")
      .map((l) => [JSON.parse(l).host, JSON.parse(l).kind]),
    [
      ["q.example.net", "DIAGNOSIS_KIND_COALESCING_REFUSED"],
      ["once.example.net", "DIAGNOSIS_KIND_NOT_RECURRING"],
    ],
  );
  const text = help.stdout.replace(/\s+/g, " ");
  assert.ok(
    text.includes(
      "list the hosts that need action, most severe first: mixed, virtual-host, edge-routing, coalescing-refused, connection-coalescing",
    ),
    text,
  );
  assert.ok(text.includes("--all also list not-recurring hosts"), text);
});

test("host: one diagnosis, readable, with evidence and remediation; unknown hosts exit 1", async () => {
  const [shop, json, missing] = await Promise.all([
    cli(["host", "SHOP.example.com.", "--address", address]),
    cli(["host", "old.example.org", "--address", address, "--json"]),
    cli(["host", "never.example", "--address", address]),
  ]);
  assert.is(shop.code, 0, shop.stderr);
  assert.match(shop.stdout, /^shop\.example\.com: connection coalescing \(confidence (high|medium)\)\n/);
  assert.match(shop.stdout, /answered 421 Misdirected Request 3 times over 3 days/);
  assert.match(shop.stdout, /retried:\s+3, recovered 3/);
  assert.match(shop.stdout, /PEER HOST \(connection opened for\)\s+421s\n\s+www\.example\.com\s+3/);
  assert.match(shop.stdout, /What to change:\n\s+Every TLS endpoint whose certificate covers the host/);
  assert.is(JSON.parse(json.stdout).kind, "DIAGNOSIS_KIND_VIRTUAL_HOST");
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /^crawldiag: NOT_FOUND: host: never\.example has never been seen/);
});

test("alerts: client-side 421s per crawler and reason, with what to change", async () => {
  const run = await cli(["alerts", "--address", address]);
  assert.is(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /^CRAWLER\s+REASON\s+421s\s+EXAMPLE HOSTS\s+LAST SEEN\nfleet-nosni\s+NO_SNI\s+1\s+misc\.example\.net\s/,
  );
  assert.match(run.stdout, /\n\nNO_SNI: \S.+\n$/);
});

test("import: batches, bad lines by number, checkpoint resume, and re-runs never count twice", async () => {
  const dir = tempDir();
  try {
    const file = join(dir, "fetches.ndjson");
    const line = (i: number) =>
      JSON.stringify(FetchRecord.toJSON(record({ fetchId: `imp-${i}`, url: "https://import.example/", crawler: "" })));
    const lines = Array.from({ length: 20 }, (_, i) => line(i + 1));
    lines[4] = "{not json";
    lines[8] = JSON.stringify({ ...JSON.parse(line(9)), statusCode: 700 });
    lines[12] = "";
    writeFileSync(file, `${lines.join("\n")}\n`);
    const args = ["import", file, "--address", address, "--batch-size", "7", "--crawler", "fleet-import"];

    const first = await cli(args);
    assert.is(first.code, 1, "bad lines make the exit code 1");
    assert.match(first.stderr, /^line 5: not valid JSON/m);
    assert.match(first.stderr, /^line 9: status_code: /m);
    assert.match(first.stdout, /imported lines 1-20 of .*: 17 records stored, 0 already stored, 2 bad lines/);
    assert.is(await stats("import.example"), 17);
    assert.ok(existsSync(`${file}.checkpoint`));

    const again = await cli(args);
    assert.match(again.stdout, /nothing to import: .* was imported up to line 20/);

    // Without its checkpoint the same file gets the same request_ids: the server replays, nothing is added.
    unlinkSync(`${file}.checkpoint`);
    const replay = await cli(args);
    assert.match(replay.stdout, /imported lines 1-20 of .*: 0 records stored, 17 already stored, 2 bad lines/);
    assert.is(await stats("import.example"), 17);

    appendFileSync(file, `${Array.from({ length: 5 }, (_, i) => line(21 + i)).join("\n")}\n`);
    const resumed = await cli(args);
    assert.is(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming at line 21/);
    assert.match(resumed.stdout, /imported lines 21-25 of .*: 5 records stored, 0 already stored, 0 bad lines/);
    assert.is(await stats("import.example"), 22);
    assert.is(JSON.parse(readFileSync(`${file}.checkpoint`, "utf8")).nextLine, 26);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("probe: one line per fetch against real TLS servers, and --report sends the records", async () => {
  const dir = tempDir();
  const pki = makePki(dir);
  const tls = await startTlsServer({ address: "127.0.0.1", pki, serves: strictSni("a.crawl.test", "b.crawl.test") });
  try {
    const origin = (h: string) => `https://${h}:${tls.port}/`;
    const run = await cli([
      "probe",
      origin("a.crawl.test"),
      origin("b.crawl.test"),
      "--concurrency",
      "1",
      "--repeat",
      "2",
      "--ca",
      pki.caPath,
      "--resolve",
      "a.crawl.test:127.0.0.1",
      "--resolve",
      "b.crawl.test:127.0.0.1",
      "--report",
      address,
    ]);
    assert.is(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.is(lines.length, 6);
    const b = `b\\.crawl\\.test:${tls.port}`;
    assert.match(lines[0] ?? "", new RegExp(`^a\\.crawl\\.test:${tls.port}  h2  200  sni=a\\.crawl\\.test  own  `));
    assert.match(lines[1] ?? "", new RegExp(`^${b}  h2  421  sni=a\\.crawl\\.test  coalesced  addr=127\\.0\\.0\\.1  `));
    assert.match(lines[2] ?? "", new RegExp(`^${b}  h2  200  sni=b\\.crawl\\.test  own  .*  retry-of=\\S+-f2$`));
    assert.match(run.stderr, /reported 6 records to .*: 6 stored, 0 refused/);
    assert.is(await stats(`b.crawl.test:${tls.port}`), 4);
  } finally {
    await tls.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("serve: runs the service from the environment and stops on SIGTERM", async () => {
  const dir = tempDir();
  const env = { CRAWLDIAG_ADDRESS: "127.0.0.1:0", CRAWLDIAG_DB: join(dir, "serve.db") };
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  try {
    let err = "";
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on("data", (c: Buffer) => {
        err += c.toString();
        const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(err);
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", () => reject(new Error(`serve exited before listening:\n${err}`)));
    });
    const report = await cli(["report", "--address", `127.0.0.1:${port}`]);
    assert.is(report.stdout, "No matching diagnoses.\n");
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.is(await exited, 0);
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
