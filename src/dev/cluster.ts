// `npm run dev:cluster`: a local cluster on loopback for trying cluster mode. Two ClickHouse shards (Replicated
// tables, ZooKeeper for ON CLUSTER DDL), NATS JetStream (3 nodes, stream replicas 3, as in production; `--nats-nodes 1`
// for one) and two crawldiag nodes, each on its own shard. Ctrl-C or SIGTERM stops it all and removes its data.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startClickHouseCluster } from "./clickhouse-server.js";
import { missingMessage, missingPackages, readyMessage } from "./cluster-info.js";
import { type DevNode, startNode } from "./cluster-nodes.js";
import { startNats } from "./nats-server.js";

const SUPERVISED = "CRAWLDIAG_DEV_CLUSTER_SUPERVISED";
const DATABASE = "crawldiag";

if (process.env[SUPERVISED] === "1") await run();
else supervise();

/**
 * Ctrl-C sends SIGINT to the terminal's whole process group: the servers would die at once, NATS and ClickHouse
 * before the nodes that are still draining into them. So the cluster runs in a process group of its own, and
 * this process only forwards the signal, letting it stop things in order.
 */
function supervise(): void {
  const missing = missingPackages();
  if (missing.length > 0) {
    process.stderr.write(missingMessage(missing));
    process.exit(1);
  }
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      detached: true,
      env: { ...process.env, [SUPERVISED]: "1" },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  child.once("exit", (code, signal) => process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
}

async function run(): Promise<void> {
  const natsNodes = process.argv[process.argv.indexOf("--nats-nodes") + 1] === "1" ? 1 : 3;
  // Every launcher makes its temp folders under os.tmpdir(), which follows TMPDIR: with it pointing here, all the
  // cluster's data is in one folder, easy to show, to remove, and to check for left-overs.
  const dataDir = mkdtempSync(join(tmpdir(), "crawldiag-dev-cluster-"));
  process.env.TMPDIR = dataDir;
  const out = (text: string) => process.stdout.write(`${text}\n`);
  // What has started, in the order it must stop: nodes first, then NATS, then ClickHouse with ZooKeeper.
  const stops: { what: string; stop: () => Promise<unknown> }[] = [];
  let stopping: Promise<void> | undefined;
  let step: Promise<unknown> = Promise.resolve();

  const shutdown = (reason: string, code: number) => {
    stopping ??= (async () => {
      out(`dev:cluster: ${reason}; stopping`);
      // A server being started cannot be cancelled: wait for it, so it is stopped too.
      await step.catch(() => undefined);
      for (const { what, stop } of stops) {
        out(`dev:cluster: stopping ${what}`);
        await stop().catch((e: unknown) => out(`dev:cluster: stopping ${what} failed: ${String(e)}`));
      }
      rmSync(dataDir, { recursive: true, force: true });
      out("dev:cluster: stopped, data removed");
      process.exit(code);
    })();
  };
  process.on("SIGINT", () => shutdown("SIGINT", 0));
  process.on("SIGTERM", () => shutdown("SIGTERM", 0));
  // The supervisor gone (SIGKILLed, or its terminal closed) would leave this process group running for good.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && shutdown("the launching process is gone", 1), 1000).unref();

  const begin = <T>(p: Promise<T>): Promise<T> => {
    step = p;
    return p;
  };
  try {
    out("dev:cluster: starting ClickHouse (2 shards) with ZooKeeper...");
    const clickhouse = await begin(startClickHouseCluster(2));
    stops.unshift({ what: "ClickHouse and ZooKeeper", stop: () => clickhouse.close() });
    if (stopping) return;
    out(`dev:cluster: starting NATS (${natsNodes} node${natsNodes === 1 ? "" : "s"})...`);
    const nats = await begin(startNats({ nodes: natsNodes }));
    stops.unshift({ what: "NATS", stop: () => nats.stop() });
    const nodes: DevNode[] = [];
    // One node after the other: the first creates the schema ON CLUSTER; the second then finds it in place.
    for (const [i, shard] of clickhouse.nodes.entries()) {
      if (stopping) return;
      const name = `node${i + 1}`;
      out(`dev:cluster: starting ${name}...`);
      const port = await freePort();
      const node = await begin(
        startNode(
          name,
          port,
          {
            CRAWLDIAG_CLICKHOUSE_URL: `${shard.url}/${DATABASE}`,
            CRAWLDIAG_CLICKHOUSE_CLUSTER: clickhouse.name,
            // startClickHouseCluster gives each server ZooKeeper and its {shard}/{replica} macros.
            CRAWLDIAG_CLICKHOUSE_REPLICATED: "1",
            CRAWLDIAG_NATS_URL: nats.urls.join(","),
            CRAWLDIAG_NATS_REPLICAS: String(natsNodes),
            CRAWLDIAG_ROLES: "ingest,query,writer",
          },
          out,
        ),
      );
      stops.unshift({ what: name, stop: () => node.stop() });
      void node.exited.then((code) => shutdown(`${name} exited (${code})`, 1));
      await begin(node.backingReady());
      nodes.push(node);
    }
    if (stopping) return;
    out(
      readyMessage({
        nodes: nodes.map((n, i) => ({
          name: n.name,
          address: n.address,
          clickhouseUrl: `${clickhouse.nodes[i]?.url ?? ""}/${DATABASE}`,
        })),
        clickhouseCluster: clickhouse.name,
        clickhouseHttp: clickhouse.nodes.map((n) => n.url),
        natsUrls: nats.urls,
        natsReplicas: natsNodes,
        dataDir,
      }),
    );
  } catch (e) {
    out(`dev:cluster: could not start: ${e instanceof Error ? e.message : String(e)}`);
    shutdown("start-up failed", 1);
  }
}

/** A free port on loopback, for a node's address to be known (and printed) before it starts. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a !== null && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}
