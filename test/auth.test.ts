import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type CallOptions, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type App, startApp } from "../src/app.js";
import { readConfig } from "../src/config.js";
import * as reflection from "../src/gen/grpc/reflection/v1/reflection.js";
import {
  GetHostDiagnosisRequest,
  GetHostStatsRequest,
  ListCrawlerAlertsRequest,
  ListHostDiagnosesRequest,
} from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { createLogger } from "../src/log.js";
import { bearer, newToken, sha256Hex, type TestClient, writeAuthFile } from "./support/auth.js";
import { type Clients, call, connect } from "./support/client.js";
import { healthCheck } from "./support/health.js";
import { record, requestId } from "./support/records.js";
import { tempDir } from "./support/server.js";

const SEEN_HOST = "seen.example.com";
const DENIED_HOST = "denied.example.com";

const writer: TestClient = { name: "fleet writer", token: newToken(), scopes: ["ingest"] };
const reader: TestClient = { name: "reports", token: newToken(), scopes: ["read"] };
const both: TestClient = { name: "operator", token: newToken(), scopes: ["ingest", "read"] };
const limited: TestClient = { name: "eu fleet", token: newToken(), scopes: ["ingest"], crawlers: ["fleet-a", "eu-*"] };
const CLIENTS = [writer, reader, both, limited];

type Rpc = { name: string; scope: "ingest" | "read"; run: (c: Clients, md: Metadata) => Promise<unknown> };
const opts = (): Partial<CallOptions> => ({ deadline: Date.now() + 10_000 });
const RPCS: Rpc[] = [
  {
    name: "RecordFetches",
    scope: "ingest",
    run: (c, md) =>
      call(
        c.ingest.recordFetches,
        c.ingest,
        { requestId: requestId("auth"), records: [record({ url: `https://${DENIED_HOST}/` })] },
        opts(),
        md,
      ),
  },
  {
    name: "GetHostStats",
    scope: "read",
    run: (c, md) =>
      call(c.diagnosis.getHostStats, c.diagnosis, GetHostStatsRequest.fromJSON({ host: SEEN_HOST }), opts(), md),
  },
  {
    name: "GetHostDiagnosis",
    scope: "read",
    run: (c, md) =>
      call(
        c.diagnosis.getHostDiagnosis,
        c.diagnosis,
        GetHostDiagnosisRequest.fromJSON({ host: SEEN_HOST }),
        opts(),
        md,
      ),
  },
  {
    name: "ListHostDiagnoses",
    scope: "read",
    run: (c, md) => call(c.diagnosis.listHostDiagnoses, c.diagnosis, ListHostDiagnosesRequest.fromJSON({}), opts(), md),
  },
  {
    name: "ListCrawlerAlerts",
    scope: "read",
    run: (c, md) => call(c.diagnosis.listCrawlerAlerts, c.diagnosis, ListCrawlerAlertsRequest.fromJSON({}), opts(), md),
  },
];

/** The status code a call ends with, OK included. */
const codeOf = (p: Promise<unknown>): Promise<number> =>
  p.then(
    () => status.OK,
    (e: ServiceError) => e.code,
  );

let dir = "";
let app: App;
let c: Clients;
const logLines: string[] = [];

test.before(async () => {
  dir = tempDir();
  writeAuthFile(join(dir, "auth.json"), CLIENTS);
  const config = readConfig({
    CRAWLDIAG_ADDRESS: "127.0.0.1:0",
    CRAWLDIAG_DB: join(dir, "crawldiag.db"),
    CRAWLDIAG_AUTH_FILE: join(dir, "auth.json"),
    CRAWLDIAG_SHUTDOWN_GRACE_MS: "2000",
  });
  app = await startApp(
    config,
    createLogger("info", (line) => logLines.push(line)),
  );
  c = connect(app.port);
  const seeded = await call(
    c.ingest.recordFetches,
    c.ingest,
    { requestId: requestId("seed"), records: [record({ url: `https://${SEEN_HOST}/`, statusCode: 421 })] },
    opts(),
    bearer(both.token),
  );
  assert.is(seeded.acceptedCount, 1);
});

test.after(async () => {
  c.closeAll();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

test("every RPC without a token, with a malformed header or an unknown token is UNAUTHENTICATED", async () => {
  const variants: [string, Metadata][] = [
    ["no authorization", new Metadata()],
    ["unknown token", bearer(newToken())],
    ["the file's digest sent as the token", bearer(sha256Hex(both.token))],
    ["Basic scheme", bearer(both.token, `Basic ${both.token}`)],
    ["no scheme", bearer(both.token, both.token)],
    ["scheme without token", bearer(both.token, "Bearer ")],
  ];
  for (const rpc of RPCS) {
    for (const [label, md] of variants) {
      assert.is(status[await codeOf(rpc.run(c, md))], "UNAUTHENTICATED", `${rpc.name}: ${label}`);
    }
  }
});

test("every RPC with a token lacking its scope is PERMISSION_DENIED", async () => {
  for (const rpc of RPCS) {
    const wrong = rpc.scope === "ingest" ? reader : writer;
    assert.is(status[await codeOf(rpc.run(c, bearer(wrong.token)))], "PERMISSION_DENIED", rpc.name);
  }
});

test("every RPC with a token holding its scope is answered (the scheme is case-insensitive)", async () => {
  for (const rpc of RPCS) {
    const right = rpc.scope === "ingest" ? writer : reader;
    assert.is(status[await codeOf(rpc.run(c, bearer(right.token)))], "OK", rpc.name);
    assert.is(status[await codeOf(rpc.run(c, bearer(both.token)))], "OK", `${rpc.name} (both scopes)`);
    assert.is(status[await codeOf(rpc.run(c, bearer(right.token, `bEaReR ${right.token}`)))], "OK", rpc.name);
  }
});

test("a refused ingest stores nothing, however large its body", async () => {
  await call(
    c.ingest.recordFetches,
    c.ingest,
    { requestId: requestId("clean"), records: [record({ url: "https://clean.example.com/" })] },
    opts(),
    bearer(writer.token),
  );
  // The RecordFetches calls of the earlier tests wrote to DENIED_HOST with both valid and refused credentials.
  const before = await call(
    c.diagnosis.getHostStats,
    c.diagnosis,
    GetHostStatsRequest.fromJSON({ host: DENIED_HOST }),
    opts(),
    bearer(reader.token),
  );
  const big = Array.from({ length: 5000 }, () =>
    record({ url: `https://${DENIED_HOST}/`, serverSoftware: "x".repeat(64) }),
  );
  for (const md of [new Metadata(), bearer(newToken()), bearer(reader.token)]) {
    const code = await codeOf(
      call(c.ingest.recordFetches, c.ingest, { requestId: requestId("big"), records: big }, opts(), md),
    );
    assert.ok(code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED, status[code]);
  }
  const after = await call(
    c.diagnosis.getHostStats,
    c.diagnosis,
    GetHostStatsRequest.fromJSON({ host: DENIED_HOST }),
    opts(),
    bearer(reader.token),
  );
  // Three accepted calls of the previous test (ingest scope, both scopes, lower-case scheme), none of the refused.
  assert.is(before.fetchCount, 3);
  assert.is(after.fetchCount, before.fetchCount);
});

test("a client limited to some crawlers has the others' records rejected one by one (field crawler)", async () => {
  const host = "crawlers.example.com";
  const url = `https://${host}/`;
  const crawlers = ["fleet-a", "eu-west", "fleet-b", "eu", "fleet-a2", "eu-"];
  const res = await call(
    c.ingest.recordFetches,
    c.ingest,
    { requestId: requestId("crawlers"), records: crawlers.map((crawler) => record({ url, crawler })) },
    opts(),
    bearer(limited.token),
  );
  assert.is(res.acceptedCount, 3);
  assert.equal(
    res.rejections.map((r) => [r.index, r.field]),
    [
      [2, "crawler"],
      [3, "crawler"],
      [4, "crawler"],
    ],
  );
  // The same crawlers from an unrestricted client are all accepted.
  const open = await call(
    c.ingest.recordFetches,
    c.ingest,
    { requestId: requestId("crawlers"), records: crawlers.map((crawler) => record({ url, crawler })) },
    opts(),
    bearer(writer.token),
  );
  assert.is(open.acceptedCount, crawlers.length);
  const stats = await call(
    c.diagnosis.getHostStats,
    c.diagnosis,
    GetHostStatsRequest.fromJSON({ host }),
    opts(),
    bearer(reader.token),
  );
  assert.is(stats.fetchCount, 3 + crawlers.length);
});

test("health and reflection answer without a token", async () => {
  assert.is(await healthCheck(c.ingest, ""), "SERVING");
  assert.is(await healthCheck(c.ingest, "webmasterid.crawldiag.v1.IngestService"), "SERVING");
  const client = new reflection.ServerReflectionClient(`127.0.0.1:${app.port}`, credentials.createInsecure());
  try {
    const names = await new Promise<string[]>((resolve, reject) => {
      const stream = client.serverReflectionInfo();
      stream.on("data", (r: reflection.ServerReflectionResponse) =>
        resolve(r.listServicesResponse?.service.map((s) => s.name) ?? []),
      );
      stream.on("error", reject);
      stream.write(reflection.ServerReflectionRequest.fromJSON({ listServices: "*" }));
      stream.end();
    });
    assert.ok(names.includes("webmasterid.crawldiag.v1.IngestService"), names.join());
  } finally {
    client.close();
  }
});

test("no token reaches the log or the database; refusals are logged by code", () => {
  const log = logLines.join("");
  assert.match(log, '"code":"UNAUTHENTICATED"');
  assert.match(log, '"code":"PERMISSION_DENIED"');
  const files = readdirSync(dir).filter((f) => f.startsWith("crawldiag.db"));
  assert.ok(files.length >= 1);
  const disk = files.map((f) => readFileSync(join(dir, f)).toString("latin1")).join("");
  for (const { token } of CLIENTS) {
    assert.not.ok(log.includes(token), "a token is in the log");
    assert.not.ok(disk.includes(token), "a token is in the database");
  }
});

test.run();
