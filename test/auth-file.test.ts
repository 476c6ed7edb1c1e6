import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CallOptions, type ServiceError, status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, readConfig } from "../src/config.js";
import { ListCrawlerAlertsRequest } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { bearer, newToken, sha256Hex, type TestClient, writeAuthFile } from "./support/auth.js";
import { call, connect } from "./support/client.js";
import { type ChildServer, spawnServer, tempDir } from "./support/server.js";

// The auth file and the safe default: checked at start-up, re-read on SIGHUP.
const CLIENTS: TestClient[] = [
  { name: "writer", token: newToken(), scopes: ["ingest"] },
  { name: "reader", token: newToken(), scopes: ["read"], crawlers: ["eu-*"] },
];
const opts = (): Partial<CallOptions> => ({ deadline: Date.now() + 10_000 });
const codeOf = (p: Promise<unknown>): Promise<number> =>
  p.then(
    () => status.OK,
    (e: ServiceError) => e.code,
  );

let dir = "";

test.before(() => {
  dir = tempDir();
  writeAuthFile(join(dir, "auth.json"), CLIENTS);
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test("off loopback, start-up needs an auth file or CRAWLDIAG_ALLOW_UNAUTHENTICATED=1", () => {
  const base = { CRAWLDIAG_DB: join(dir, "unused.db") };
  for (const address of ["0.0.0.0:50051", "[::]:50051", "192.0.2.1:50051", "crawldiag.internal:50051"]) {
    const err = (() => {
      try {
        readConfig({ ...base, CRAWLDIAG_ADDRESS: address });
      } catch (e) {
        return e;
      }
    })();
    assert.instance(err, ConfigError, address);
    assert.match((err as Error).message, /^CRAWLDIAG_AUTH_FILE: /, address);
    assert.is(
      readConfig({ ...base, CRAWLDIAG_ADDRESS: address, CRAWLDIAG_ALLOW_UNAUTHENTICATED: "1" }).auth,
      undefined,
    );
    const withFile = readConfig({ ...base, CRAWLDIAG_ADDRESS: address, CRAWLDIAG_AUTH_FILE: join(dir, "auth.json") });
    assert.is(withFile.auth?.table.size, CLIENTS.length);
  }
  for (const address of ["127.0.0.1:0", "127.1.2.3:50051", "[::1]:50051", "localhost:50051"]) {
    assert.is(readConfig({ ...base, CRAWLDIAG_ADDRESS: address }).auth, undefined, address);
  }
  assert.throws(
    () => readConfig({ ...base, CRAWLDIAG_ALLOW_UNAUTHENTICATED: "yes" }),
    /^CRAWLDIAG_ALLOW_UNAUTHENTICATED: /,
  );
});

test("a broken auth file stops start-up, naming the variable and never quoting the file", () => {
  const secret = newToken();
  const good = { name: "a", token_sha256: sha256Hex(secret), scopes: ["read"] };
  const cases: [string, unknown][] = [
    ["not JSON", `{"clients": [{"name": "a", "token_sha256": "${secret}"`],
    ["no clients", { client: [] }],
    ["raw token as digest", { clients: [{ ...good, token_sha256: secret }] }],
    ["misspelt key", { clients: [{ ...good, crawler: ["fleet-a"] }] }],
    ["unknown scope", { clients: [{ ...good, scopes: ["write"] }] }],
    ["no scopes", { clients: [{ ...good, scopes: [] }] }],
    ["same token twice", { clients: [good, { ...good, name: "b" }] }],
    ["same name twice", { clients: [good, { ...good, token_sha256: sha256Hex(newToken()) }] }],
    ["empty crawlers", { clients: [{ ...good, crawlers: [] }] }],
    ["wildcard inside", { clients: [{ ...good, crawlers: ["eu-*-a"] }] }],
    ["no name", { clients: [{ token_sha256: good.token_sha256, scopes: ["read"] }] }],
  ];
  for (const [label, content] of cases) {
    const path = join(dir, "broken.json");
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    assert.throws(
      () => readConfig({ CRAWLDIAG_DB: join(dir, "unused.db"), CRAWLDIAG_AUTH_FILE: path }),
      (e: Error) =>
        e instanceof ConfigError && e.message.startsWith("CRAWLDIAG_AUTH_FILE: ") && !e.message.includes(secret),
      label,
    );
  }
  assert.throws(
    () => readConfig({ CRAWLDIAG_DB: join(dir, "unused.db"), CRAWLDIAG_AUTH_FILE: join(dir, "missing.json") }),
    /^CRAWLDIAG_AUTH_FILE: cannot read .*ENOENT/,
  );
});

/** Resolves when the child's stderr has a line matching re (written after `from` characters). */
function logged(server: ChildServer, re: RegExp, from: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // Only a guard against hanging: the outcome never depends on how long this takes.
    const guard = setTimeout(() => reject(new Error(`no log line ${re}:\n${server.stderr().slice(from)}`)), 20_000);
    const check = () => {
      if (re.test(server.stderr().slice(from))) {
        clearTimeout(guard);
        server.child.stderr?.off("data", check);
        resolve();
      }
    };
    server.child.stderr?.on("data", check);
    server.exited.then((code) => reject(new Error(`server exited (${code}) before logging ${re}`)));
    check();
  });
}

test("SIGHUP rotates tokens without a restart; a broken file keeps the previous one and logs why", async () => {
  const file = join(dir, "rotating.json");
  const first: TestClient = { name: "first", token: newToken(), scopes: ["read"] };
  const second: TestClient = { name: "second", token: newToken(), scopes: ["read"] };
  writeAuthFile(file, [first]);
  const server = await spawnServer({
    CRAWLDIAG_DB: join(dir, "child.db"),
    CRAWLDIAG_AUTH_FILE: file,
    CRAWLDIAG_LOG: "info",
  });
  const cc = connect(server.port);
  const health = (token: string) =>
    codeOf(
      call(cc.diagnosis.listCrawlerAlerts, cc.diagnosis, ListCrawlerAlertsRequest.fromJSON({}), opts(), bearer(token)),
    );
  try {
    assert.is(status[await health(first.token)], "OK");
    assert.is(status[await health(second.token)], "UNAUTHENTICATED");

    writeAuthFile(file, [second]);
    let mark = server.stderr().length;
    server.child.kill("SIGHUP");
    await logged(server, /"msg":"auth file reloaded","clients":1/, mark);
    assert.is(status[await health(first.token)], "UNAUTHENTICATED");
    assert.is(status[await health(second.token)], "OK");

    writeFileSync(file, `{"clients": [{"name": "x", "token_sha256": "${first.token}"`);
    mark = server.stderr().length;
    server.child.kill("SIGHUP");
    await logged(server, /"level":"error","msg":"auth file not reloaded[^\n]*CRAWLDIAG_AUTH_FILE/, mark);
    assert.is(status[await health(second.token)], "OK", "the previous table stays in force");
    assert.is(status[await health(first.token)], "UNAUTHENTICATED");
    for (const { token } of [first, second]) assert.not.ok(server.stderr().includes(token), "a token is in the log");
  } finally {
    cc.closeAll();
    server.child.kill("SIGTERM");
    assert.is(await server.exited, 0);
  }
});

test("start-up refuses a broken auth file, and a non-loopback address without one, naming CRAWLDIAG_AUTH_FILE (exit 2)", async () => {
  const broken = join(dir, "broken-start.json");
  writeFileSync(broken, "{}");
  const envs: Record<string, string>[] = [
    { CRAWLDIAG_AUTH_FILE: broken },
    // Not an address of this machine: were the check missing, binding would fail with exit 1, never listen.
    { CRAWLDIAG_ADDRESS: "192.0.2.1:0" },
  ];
  for (const env of envs) {
    const err = await spawnServer({ CRAWLDIAG_DB: join(dir, "refused.db"), CRAWLDIAG_LOG: "info", ...env }).then(
      () => "started",
      (e: Error) => e.message,
    );
    assert.match(err, /exited \(2\)[\s\S]*configuration error: CRAWLDIAG_AUTH_FILE: /);
  }
});

test.run();
