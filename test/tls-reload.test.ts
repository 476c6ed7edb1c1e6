import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { type ClientHttp2Session, connect } from "node:http2";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type Certs, makeCerts, newLeaf } from "./support/certs.js";
import { type ChildServer, spawnServer, tempDir } from "./support/server.js";

// SIGHUP puts a new certificate and key in force for new handshakes; connections already open keep going.
let dir = "";
let certs: Certs;
let server: ChildServer;
const live = { cert: "", key: "" };

const fingerprint = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256;

/** Replaces a file the way operators are told to: write a new one, then rename it over the old. */
function replace(path: string, from: string | Buffer): void {
  writeFileSync(`${path}.new`, typeof from === "string" ? readFileSync(from) : from);
  renameSync(`${path}.new`, path);
}

/** An HTTP/2 connection over TLS with ALPN h2, as gRPC clients open them, presenting the client certificate. */
async function open(withClientCert = true): Promise<{ session: ClientHttp2Session; peer: string }> {
  const session = connect(`https://127.0.0.1:${server.port}`, {
    servername: "localhost",
    ca: certs.pem(certs.ca),
    ...(withClientCert ? { cert: certs.pem(certs.clientCert), key: certs.pem(certs.clientKey) } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  return { session, peer: (session.socket as TLSSocket).getPeerCertificate().fingerprint256 };
}

/** grpc.health.v1.Health/Check by hand on an open connection: the grpc-status it ends with. */
function healthCheck(session: ClientHttp2Session): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("trailers", (trailers) => resolve(String(trailers["grpc-status"])));
    stream.on("error", reject);
    stream.on("data", () => {});
    // One uncompressed message of 0 bytes: an empty HealthCheckRequest (the overall status).
    stream.end(Buffer.alloc(5));
  });
}

function logged(re: RegExp, from: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // Only a guard against hanging: the outcome never depends on how long this takes.
    const guard = setTimeout(() => reject(new Error(`no log line ${re}:\n${server.stderr().slice(from)}`)), 20_000);
    const check = () => {
      const line = server
        .stderr()
        .slice(from)
        .split("\n")
        .find((l) => re.test(l));
      if (line === undefined) return;
      clearTimeout(guard);
      server.child.stderr?.off("data", check);
      resolve(line);
    };
    server.child.stderr?.on("data", check);
    check();
  });
}

async function hangUp(re: RegExp): Promise<string> {
  const mark = server.stderr().length;
  server.child.kill("SIGHUP");
  return logged(re, mark);
}

test.before(async () => {
  dir = tempDir();
  certs = makeCerts(dir);
  live.cert = join(dir, "live.pem");
  live.key = join(dir, "live.key");
  copyFileSync(certs.serverCert, live.cert);
  copyFileSync(certs.serverKey, live.key);
  // The next certificate, from the same CA, as a renewal would be.
  newLeaf(dir, "renewed", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  server = await spawnServer({
    CRAWLDIAG_DB: join(dir, "crawldiag.db"),
    CRAWLDIAG_TLS_CERT: live.cert,
    CRAWLDIAG_TLS_KEY: live.key,
    CRAWLDIAG_TLS_CLIENT_CA: certs.ca,
    CRAWLDIAG_LOG: "info",
  });
});

test.after(async () => {
  server?.child.kill("SIGTERM");
  await server?.exited;
  rmSync(dir, { recursive: true, force: true });
});

test("SIGHUP: new handshakes get the new certificate, open connections go on, mTLS still holds", async () => {
  const before = await open();
  assert.is(before.peer, fingerprint(certs.serverCert));
  assert.is(await healthCheck(before.session), "0");

  replace(live.cert, join(dir, "renewed.pem"));
  replace(live.key, join(dir, "renewed.key"));
  const line = await hangUp(/"msg":"TLS certificate reloaded"/);
  assert.ok(line.includes(fingerprint(join(dir, "renewed.pem"))), line);

  const after = await open();
  assert.is(after.peer, fingerprint(join(dir, "renewed.pem")));
  assert.is(await healthCheck(after.session), "0");
  // The connection opened before the reload is still the same one, with the old certificate, and still serves.
  assert.not.ok(before.session.closed || before.session.destroyed);
  assert.is((before.session.socket as TLSSocket).getPeerCertificate().fingerprint256, fingerprint(certs.serverCert));
  assert.is(await healthCheck(before.session), "0");
  // A client without a certificate is still refused the handshake.
  const refused = await open(false)
    .then((c) => healthCheck(c.session).finally(() => c.session.destroy()))
    .catch((e: Error) => e.message);
  assert.match(String(refused), /certificate required/);
  for (const c of [before, after]) c.session.close();
});

test("SIGHUP with a broken pair keeps the previous certificate in force and logs why, without key material", async () => {
  const current = fingerprint(join(dir, "renewed.pem"));
  const cases: [string, () => void][] = [
    ["CRAWLDIAG_TLS_KEY", () => replace(live.key, certs.clientKey)],
    ["CRAWLDIAG_TLS_CERT", () => replace(live.cert, Buffer.from("not a certificate\n"))],
  ];
  for (const [name, breakIt] of cases) {
    breakIt();
    const line = await hangUp(/"msg":"TLS certificate not reloaded; the previous one stays in force"/);
    assert.match(line, `"error":"${name}: `);
    assert.not.match(server.stderr(), /PRIVATE KEY|BEGIN/);
    const c = await open();
    assert.is(c.peer, current, name);
    assert.is(await healthCheck(c.session), "0");
    c.session.close();
    // Put the renewed pair back for the next case.
    replace(live.cert, join(dir, "renewed.pem"));
    replace(live.key, join(dir, "renewed.key"));
  }
});

test.run();
