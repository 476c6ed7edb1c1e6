import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { missingMessage, missingPackages, readyMessage } from "../src/dev/cluster-info.js";
import { StatusServiceClient } from "../src/gen/webmasterid/crawldiag/v1/status.js";
import { call, connect } from "./support/client.js";
import { record, requestId } from "./support/records.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const READY_MS = 180_000;

test("a missing program is named by the Debian package to apt-get install", () => {
  assert.equal(
    missingPackages((path) => !path.includes("nats")),
    ["nats-server"],
  );
  assert.equal(
    missingPackages((path) => !path.includes("zookeeper") && !path.includes("clickhouse")),
    ["clickhouse-server", "zookeeper"],
  );
  assert.match(missingMessage(["zookeeper"]), /apt-get install --no-install-recommends zookeeper\n/);
});

test("nothing is reported missing where every program is installed", () => {
  assert.equal(
    missingPackages(() => true),
    [],
  );
});

test("the ready message starts with both node addresses and shows how to reach every server", () => {
  const text = readyMessage({
    nodes: [
      { name: "node1", address: "127.0.0.1:1001", clickhouseUrl: "http://127.0.0.1:2001/crawldiag" },
      { name: "node2", address: "127.0.0.1:1002", clickhouseUrl: "http://127.0.0.1:2002/crawldiag" },
    ],
    clickhouseCluster: "crawldiag_test",
    clickhouseHttp: ["http://127.0.0.1:2001", "http://127.0.0.1:2002"],
    natsUrls: ["nats://127.0.0.1:3001", "nats://127.0.0.1:3002", "nats://127.0.0.1:3003"],
    natsReplicas: 3,
    dataDir: "/tmp/x",
  });
  assert.is(text.split("\n")[0], "dev cluster ready: node1 127.0.0.1:1001, node2 127.0.0.1:1002");
  for (const want of [
    "npm run cli -- status --address 127.0.0.1:1001",
    "--report 127.0.0.1:1001",
    "npm run cli -- import records.ndjson --address 127.0.0.1:1001",
    "npm run report -- --all --address 127.0.0.1:1002",
    "npx buf curl --protocol grpc --http2-prior-knowledge --list-services http://127.0.0.1:1001",
    "http://127.0.0.1:2002",
    "nats://127.0.0.1:3001,nats://127.0.0.1:3002,nats://127.0.0.1:3003",
    "stream replicas 3",
    "/tmp/x",
  ]) {
    assert.ok(text.includes(want), `shows ${want}`);
  }
});

test("dev:cluster takes a batch on node 1, serves it from node 2, and leaves nothing behind on SIGINT", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "src/dev/cluster.ts"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  let dataDir = "";
  try {
    const ready = await until(READY_MS, () =>
      /^dev cluster ready: node1 127\.0\.0\.1:(\d+), node2 127\.0\.0\.1:(\d+)$/m.exec(output),
    ).catch((e: Error) => {
      throw new Error(`${e.message}:\n${output}`);
    });
    dataDir = /^Data \(removed on exit\): (\S+)$/m.exec(output)?.[1] ?? "";
    assert.ok(dataDir !== "" && existsSync(dataDir), "the data folder is shown and exists");
    assert.equal(
      serversUsing(dataDir)
        .map((p) => p.program)
        .sort(),
      ["clickhouse-server", "clickhouse-server", "java", "nats-server", "nats-server", "nats-server", "node", "node"],
      "2 ClickHouse servers, ZooKeeper, 3 NATS servers and 2 crawldiag nodes run",
    );
    const [one, two] = [Number(ready[1]), Number(ready[2])];

    const writer = connect(one);
    const reader = connect(two);
    const status = new StatusServiceClient(`127.0.0.1:${two}`, credentials.createInsecure());
    try {
      // Ten hosts, so both shards hold some: node 2 must read its own shard and the other one.
      const hosts = Array.from({ length: 10 }, (_, i) => `h${i}.dev-cluster.example`);
      const records = hosts.flatMap((h) =>
        Array.from({ length: 3 }, (_, i) => record({ url: `https://${h}/`, statusCode: i === 0 ? 421 : 200 })),
      );
      const res = await call(writer.ingest.recordFetches, writer.ingest, { requestId: requestId("dev"), records });
      assert.is(res.acceptedCount, records.length);
      await until(30_000, async () => {
        const s = await call(status.getServiceStatus, status, {});
        return s.logReachable && s.storeReachable && s.backlogBatches === 0;
      });
      for (const host of hosts) {
        const stats = await call(reader.diagnosis.getHostStats, reader.diagnosis, {
          host,
          window: undefined,
          bucket: 0,
        });
        assert.is(stats.fetchCount, 3, host);
        assert.is(stats.misdirectedCount, 1, host);
      }
    } finally {
      writer.closeAll();
      reader.closeAll();
      status.close();
    }

    child.kill("SIGINT");
    assert.is(await within(60_000, exited), 0, output);
    assert.equal(serversUsing(dataDir), [], "no server is left running");
    assert.not.ok(existsSync(dataDir), "the data folder is removed");
    const steps = [
      /^dev:cluster: stopping node2$/m,
      /^dev:cluster: stopping node1$/m,
      /^node1 \| .*"msg":"stopped"/m,
      /^dev:cluster: stopping NATS$/m,
      /^dev:cluster: stopping ClickHouse and ZooKeeper$/m,
      /^dev:cluster: stopped, data removed$/m,
    ].map((re) => output.search(re));
    assert.ok(
      steps.every((at, i) => at >= 0 && at > (steps[i - 1] ?? -1)),
      `nodes first (each one gone before NATS stops), then NATS, then ClickHouse and ZooKeeper:\n${output}`,
    );
    // The launchers' watchdog shells notice within a second or two; then nothing refers to the folder.
    await until(10_000, () => processesUsing(dataDir).length === 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGINT");
      await within(60_000, exited).catch(() => child.kill("SIGKILL"));
    }
  }
});

/** Processes whose command line or environment (the cluster sets TMPDIR to its folder) mention `dir`. */
function processesUsing(dir: string): { pid: number; program: string }[] {
  const found: { pid: number; program: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8");
      if (cmdline.includes(dir) || environ.split("\0").includes(`TMPDIR=${dir}`)) {
        found.push({ pid: Number(entry), program: basename(cmdline.split("\0")[0] ?? "") });
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** The ClickHouse, NATS, ZooKeeper (java) and crawldiag (node) processes of the cluster in `dir`. */
function serversUsing(dir: string): { pid: number; program: string }[] {
  return processesUsing(dir).filter((p) => ["clickhouse-server", "nats-server", "java", "node"].includes(p.program));
}

async function until<T>(ms: number, check: () => T | Promise<T>): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== null && v !== undefined && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`not the case after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test.run();
