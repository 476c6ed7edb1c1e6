import { copyFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ChannelCredentials, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type App, startApp } from "../src/app.js";
import { ConfigError, readConfig } from "../src/config.js";
import { DiagnosisServiceClient, GetHostStatsRequest } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { IngestServiceClient } from "../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { createLogger } from "../src/log.js";
import { bearer, newToken, writeAuthFile } from "./support/auth.js";
import { type Certs, makeCerts } from "./support/certs.js";
import { call } from "./support/client.js";
import { record, requestId } from "./support/records.js";
import { tempDir } from "./support/server.js";

let dir = "";
let certs: Certs;
const token = newToken();

test.before(() => {
  dir = tempDir();
  certs = makeCerts(dir);
  writeAuthFile(join(dir, "auth.json"), [{ name: "ops", token, scopes: ["ingest", "read"] }]);
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<App> {
  const config = readConfig({
    CRAWLDIAG_ADDRESS: "127.0.0.1:0",
    CRAWLDIAG_DB: join(dir, `${requestId("db")}.db`),
    CRAWLDIAG_SHUTDOWN_GRACE_MS: "1000",
    ...env,
  });
  // Start-up notices would clutter the test output; errors still show.
  const quiet = createLogger("off", (line) => {
    if (line.includes('"level":"error"')) process.stderr.write(line);
  });
  return startApp(config, quiet);
}

/** Ingests one record and reads it back; resolves with the status code of the first call that fails, or OK. */
async function roundTrip(port: number, creds: ChannelCredentials, md = new Metadata()): Promise<string> {
  // SNI cannot be an IP address (RFC 6066); the server certificate also names localhost.
  const options = { "grpc.ssl_target_name_override": "localhost" };
  const ingest = new IngestServiceClient(`127.0.0.1:${port}`, creds, options);
  const diagnosis = new DiagnosisServiceClient(`127.0.0.1:${port}`, creds, options);
  const host = `${requestId("tls").toLowerCase()}.example.com`;
  try {
    const res = await call(
      ingest.recordFetches,
      ingest,
      { requestId: requestId("tls"), records: [record({ url: `https://${host}/` })] },
      { deadline: Date.now() + 10_000 },
      md,
    );
    assert.is(res.acceptedCount, 1);
    const stats = await call(
      diagnosis.getHostStats,
      diagnosis,
      GetHostStatsRequest.fromJSON({ host }),
      { deadline: Date.now() + 10_000 },
      md,
    );
    assert.is(stats.fetchCount, 1);
    return "OK";
  } catch (e) {
    const code = (e as ServiceError).code;
    if (code === undefined) throw e;
    return status[code];
  } finally {
    ingest.close();
    diagnosis.close();
  }
}

test("TLS: a client trusting the CA gets through; a plaintext client does not", async () => {
  const app = await start({ CRAWLDIAG_TLS_CERT: certs.serverCert, CRAWLDIAG_TLS_KEY: certs.serverKey });
  try {
    assert.is(await roundTrip(app.port, credentials.createSsl(certs.pem(certs.ca))), "OK");
    assert.is(await roundTrip(app.port, credentials.createInsecure()), "UNAVAILABLE");
    // A client that does not trust the server's CA refuses the server.
    assert.is(await roundTrip(app.port, credentials.createSsl(certs.pem(join(dir, "rogue-ca.pem")))), "UNAVAILABLE");
  } finally {
    await app.close();
  }
});

test("mTLS with an auth file: certificate and token are both required", async () => {
  const app = await start({
    CRAWLDIAG_TLS_CERT: certs.serverCert,
    CRAWLDIAG_TLS_KEY: certs.serverKey,
    CRAWLDIAG_TLS_CLIENT_CA: certs.ca,
    CRAWLDIAG_AUTH_FILE: join(dir, "auth.json"),
  });
  const ca = certs.pem(certs.ca);
  try {
    const withCert = credentials.createSsl(ca, certs.pem(certs.clientKey), certs.pem(certs.clientCert));
    assert.is(await roundTrip(app.port, withCert, bearer(token)), "OK");
    assert.is(await roundTrip(app.port, withCert), "UNAUTHENTICATED");
    assert.is(await roundTrip(app.port, credentials.createSsl(ca), bearer(token)), "UNAVAILABLE", "no certificate");
    const rogue = credentials.createSsl(ca, certs.pem(certs.rogueKey), certs.pem(certs.rogueCert));
    assert.is(await roundTrip(app.port, rogue, bearer(token)), "UNAVAILABLE", "certificate of another CA");
    assert.is(await roundTrip(app.port, credentials.createInsecure(), bearer(token)), "UNAVAILABLE", "plaintext");
  } finally {
    await app.close();
  }
});

test("TLS settings are checked at start-up; errors name the variable and never show key material", () => {
  const notPem = join(dir, "not.pem");
  writeFileSync(notPem, "hello");
  const keyCopy = join(dir, "copy.key");
  copyFileSync(certs.serverKey, keyCopy);
  const cases: [string, Record<string, string>][] = [
    ["CRAWLDIAG_TLS_KEY", { CRAWLDIAG_TLS_CERT: certs.serverCert }],
    ["CRAWLDIAG_TLS_CERT", { CRAWLDIAG_TLS_KEY: certs.serverKey }],
    ["CRAWLDIAG_TLS_CLIENT_CA", { CRAWLDIAG_TLS_CLIENT_CA: certs.ca }],
    ["CRAWLDIAG_TLS_CERT", { CRAWLDIAG_TLS_CERT: join(dir, "missing.pem"), CRAWLDIAG_TLS_KEY: certs.serverKey }],
    ["CRAWLDIAG_TLS_CERT", { CRAWLDIAG_TLS_CERT: notPem, CRAWLDIAG_TLS_KEY: certs.serverKey }],
    ["CRAWLDIAG_TLS_KEY", { CRAWLDIAG_TLS_CERT: certs.serverCert, CRAWLDIAG_TLS_KEY: notPem }],
    // A certificate is not a key, and another certificate's key is the wrong key.
    ["CRAWLDIAG_TLS_KEY", { CRAWLDIAG_TLS_CERT: certs.serverCert, CRAWLDIAG_TLS_KEY: certs.serverCert }],
    ["CRAWLDIAG_TLS_KEY", { CRAWLDIAG_TLS_CERT: certs.serverCert, CRAWLDIAG_TLS_KEY: certs.clientKey }],
    [
      "CRAWLDIAG_TLS_CLIENT_CA",
      { CRAWLDIAG_TLS_CERT: certs.serverCert, CRAWLDIAG_TLS_KEY: keyCopy, CRAWLDIAG_TLS_CLIENT_CA: notPem },
    ],
  ];
  for (const [name, env] of cases) {
    assert.throws(
      () => readConfig({ CRAWLDIAG_DB: join(dir, "unused.db"), ...env }),
      (e: Error) =>
        e instanceof ConfigError && e.message.startsWith(`${name}: `) && !/PRIVATE KEY|BEGIN/.test(e.message),
      `${name} ${JSON.stringify(Object.keys(env))}`,
    );
  }
  const ok = readConfig({
    CRAWLDIAG_DB: join(dir, "unused.db"),
    CRAWLDIAG_TLS_CERT: certs.serverCert,
    CRAWLDIAG_TLS_KEY: keyCopy,
  });
  assert.ok(ok.tls?.cert.includes("BEGIN CERTIFICATE"));
  assert.is(ok.tls?.clientCa, undefined);
});

test.run();
