import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { newToken, writeAuthFile } from "./support/auth.js";
import { type Certs, makeCerts } from "./support/certs.js";
import { makePki } from "./support/certs-e2e.js";
import { cli } from "./support/cli.js";
import { record } from "./support/records.js";
import { startTestServer, type TestServer, tempDir } from "./support/server.js";
import { startTlsServer, vhosts } from "./support/tls-servers.js";

// Every tool against a server with mutual TLS and tokens, as operators run it off loopback.
const token = newToken();
const HOST = "tls-tools.example.com";
let dir = "";
let certs: Certs;
let mtls: TestServer;
let address = "";
let mutual: string[] = [];
const env = () => ({ CRAWLDIAG_TOKEN: token });

test.before(async () => {
  dir = tempDir();
  certs = makeCerts(dir);
  writeAuthFile(join(dir, "auth.json"), [{ name: "ops", token, scopes: ["ingest", "read"] }]);
  mtls = await startTestServer(
    {
      CRAWLDIAG_TLS_CERT: certs.serverCert,
      CRAWLDIAG_TLS_KEY: certs.serverKey,
      CRAWLDIAG_TLS_CLIENT_CA: certs.ca,
      CRAWLDIAG_AUTH_FILE: join(dir, "auth.json"),
    },
    tempDir(),
  );
  // The certificate names localhost (a TLS server name cannot be an IP address).
  address = `localhost:${mtls.port}`;
  mutual = ["--address", address, "--ca", certs.ca, "--cert", certs.clientCert, "--key", certs.clientKey];
});

test.after(async () => {
  await mtls.close();
  rmSync(dir, { recursive: true, force: true });
});

test("import, host, report and alerts reach a server with mutual TLS and a token", async () => {
  const file = join(dir, "records.ndjson");
  const day = (d: number) => new Date(Date.now() - d * 86_400_000);
  const lines = [1, 2, 3].map((d) =>
    JSON.stringify(FetchRecord.toJSON(record({ url: `https://${HOST}/`, statusCode: 421, fetchedAt: day(d) }))),
  );
  writeFileSync(file, `${lines.join("\n")}\n`);
  const imported = await cli(["import", file, ...mutual], env());
  assert.is(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /3 records stored/);
  const [host, report, alerts] = await Promise.all([
    cli(["host", HOST, "--json", ...mutual], env()),
    cli(["report", "--json", "--all", ...mutual], env()),
    cli(["alerts", "--json", ...mutual], env()),
  ]);
  for (const run of [host, report, alerts]) assert.is(run.code, 0, run.stderr);
  assert.is(JSON.parse(host.stdout).host, HOST);
  assert.match(report.stdout, HOST);
});

test("without the client certificate, the token, or TLS at all, the tools are refused", async () => {
  const [noCert, noToken, plaintext] = await Promise.all([
    cli(["host", HOST, "--address", address, "--ca", certs.ca], env()),
    cli(["host", HOST, ...mutual]),
    cli(["host", HOST, "--address", address], env()),
  ]);
  assert.is(noCert.code, 1);
  assert.match(noCert.stderr, /UNAVAILABLE/);
  assert.is(noToken.code, 1);
  assert.match(noToken.stderr, /UNAUTHENTICATED/);
  assert.is(plaintext.code, 1);
  assert.match(plaintext.stderr, /UNAVAILABLE/);
});

test("--tls with --ca reaches a TLS server without mTLS; unreadable files and a lone --cert are usage errors", async () => {
  const tlsOnly = await startTestServer({ CRAWLDIAG_TLS_CERT: certs.serverCert, CRAWLDIAG_TLS_KEY: certs.serverKey });
  try {
    const [ok, badCa, loneCert] = await Promise.all([
      cli(["alerts", "--tls", "--ca", certs.ca, "--address", `localhost:${tlsOnly.port}`]),
      cli(["alerts", "--ca", join(dir, "missing.pem"), "--address", `localhost:${tlsOnly.port}`]),
      cli(["alerts", "--cert", certs.clientCert, "--address", `localhost:${tlsOnly.port}`]),
    ]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /No crawler alerts/);
    assert.is(badCa.code, 2);
    assert.match(badCa.stderr, /--ca: cannot read .*missing\.pem.*ENOENT/);
    assert.is(loneCert.code, 2);
    assert.match(loneCert.stderr, /--cert and --key go together/);
  } finally {
    await tlsOnly.close();
  }
});

test("probe --report sends its records to a server with mutual TLS and a token (--report-ca/-cert/-key)", async () => {
  const pkiDir = tempDir();
  const pki = makePki(pkiDir);
  const site = await startTlsServer({ address: "127.0.0.1", pki, serves: vhosts("a.crawl.test") });
  try {
    const run = await cli(
      [
        "probe",
        `https://a.crawl.test:${site.port}/`,
        "--ca",
        pki.caPath,
        "--resolve",
        "a.crawl.test:127.0.0.1",
        "--report",
        address,
        "--report-ca",
        certs.ca,
        "--report-cert",
        certs.clientCert,
        "--report-key",
        certs.clientKey,
      ],
      env(),
    );
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stderr, /reported 1 records to .*: 1 stored, 0 refused/);
  } finally {
    await site.close();
    rmSync(pkiDir, { recursive: true, force: true });
  }
});

test.run();
