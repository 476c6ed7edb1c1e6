import { rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makePki, type TestPki } from "./support/certs-e2e.js";
import { cli } from "./support/cli.js";
import { tempDir } from "./support/server.js";
import { startTlsServer, strictSni, type TlsTestServer, vhosts } from "./support/tls-servers.js";

let dir: string;
let pki: TestPki;
const servers: TlsTestServer[] = [];

test.before(() => {
  dir = tempDir();
  pki = makePki(dir);
});

test.after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** `npm run probe -- ...` as people run it: its output lines. */
async function probeCli(args: string[]): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const { code, stdout, stderr } = await cli(["probe", ...args]);
  if (process.env.CRAWLDIAG_E2E_LOG) process.stderr.write(stdout);
  return { code, lines: stdout.trimEnd().split("\n"), stderr };
}

async function server(...o: Parameters<typeof startTlsServer>): Promise<TlsTestServer> {
  const s = await startTlsServer(...o);
  servers.push(s);
  return s;
}

test("a two-URL run with the default concurrency coalesces the second URL onto the first's connection", async () => {
  const s = await server({ address: "127.0.0.1", pki, serves: strictSni("a.crawl.test", "b.crawl.test") });
  const at = (h: string) => `https://${h}:${s.port}/`;
  const resolve = ["--resolve", "a.crawl.test:127.0.0.1", "--resolve", "b.crawl.test:127.0.0.1"];
  const run = await probeCli([at("a.crawl.test"), at("b.crawl.test"), "--ca", pki.caPath, ...resolve]);
  assert.is(run.code, 0, run.stderr);
  // What docs/clients.md shows: a first on a connection of its own, b on a's connection, then b's retry.
  const conn = "conn=(\\S+)-c(\\d+)#";
  const [a, b, retry] = run.lines.map((l) => l.replace(new RegExp(`:${s.port}\\b`), ":PORT"));
  assert.is(run.lines.length, 3, run.lines.join("\n"));
  assert.match(
    a ?? "",
    new RegExp(`^a\\.crawl\\.test:PORT  h2  200  sni=a\\.crawl\\.test  own  addr=127\\.0\\.0\\.1  ${conn}0$`),
  );
  assert.match(
    b ?? "",
    /^b\.crawl\.test:PORT {2}h2 {2}421 {2}sni=a\.crawl\.test {2}coalesced {2}addr=127\.0\.0\.1 {2}/,
  );
  assert.match(retry ?? "", /^b\.crawl\.test:PORT {2}h2 {2}200 {2}sni=b\.crawl\.test {2}own .* retry-of=\S+-f2$/);
  const connOf = (l = "") => /conn=(\S+)#(\d+)/.exec(l)?.slice(1);
  assert.equal(connOf(b), [connOf(a)?.[0], "1"]);
  assert.is.not(connOf(retry)?.[0], connOf(a)?.[0]);
});

test("--resolve with several addresses: each repetition starts at the next address, so a faulty one is reached", async () => {
  // Two edge nodes on one port; the one at 127.0.0.3 lacks the vhost.
  const good = await server({ address: "127.0.0.2", pki, serves: vhosts("edge.crawl.test") });
  await server({ address: "127.0.0.3", port: good.port, pki, serves: vhosts("stale.crawl.test") });
  const run = await probeCli([
    `https://edge.crawl.test:${good.port}/`,
    "--repeat",
    "3",
    "--ca",
    pki.caPath,
    "--resolve",
    "edge.crawl.test:127.0.0.2,127.0.0.3",
  ]);
  const seen = run.lines.map((l) => {
    const [, status = "", addr = ""] = /^\S+ {2}h2 {2}(\d+) .* addr=(\S+) /.exec(l) ?? [];
    return `${status}@${addr}${l.includes("retry-of=") ? " retry" : ""}`;
  });
  // The 421 is retried once on a fresh connection to the same address, as a browser would.
  assert.equal(seen, ["200@127.0.0.2", "421@127.0.0.3", "421@127.0.0.3 retry", "200@127.0.0.2"]);
  assert.is(run.code, 0, run.stderr);
});

test("probe --help says that repetitions rotate through the --resolve addresses", async () => {
  const run = await probeCli(["--help"]);
  assert.ok(run.lines.join(" ").replace(/\s+/g, " ").includes("each repetition starts at the next address"));
});

test.run();
