import { readdirSync, readFileSync } from "node:fs";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { connect } from "nats";
import { startClickHouse, type TestClickHouse } from "../src/dev/clickhouse-server.js";
import { startNats, type TestNats } from "../src/dev/nats-server.js";
import { type GetServiceStatusResponse, StatusServiceClient } from "../src/gen/webmasterid/crawldiag/v1/status.js";
import { cpuMs, type ServerProcess, startProcess, statusMb } from "./processes.js";
import type { Service } from "./service.js";

/**
 * How the crawldiag side of the cluster is laid out on this machine: one node with every role, or an ingest and
 * query node beside a writer node (two processes, so that storing never waits for the gRPC thread nor it for
 * storing).
 */
export type Topology = "one" | "split";

const DATABASE = "crawldiag_bench";
const POLL_MS = 50;

/**
 * ClickHouse and NATS from the src/dev launchers (free loopback ports, temp folders), and crawldiag nodes in
 * child processes with the cluster settings. Whatever started is stopped again if a later step fails.
 */
export async function startClusterService(
  script: string,
  topology: Topology,
  nodeArgs: string[],
  env: Record<string, string>,
): Promise<Service> {
  let nats: TestNats | undefined;
  let clickhouse: TestClickHouse | undefined;
  const nodes: ServerProcess[] = [];
  const stopAll = async () => {
    // Nodes first: a writer stopped after ClickHouse would log failed writes on its way out.
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all([nats?.stop(), clickhouse?.close()]);
  };
  try {
    [nats, clickhouse] = await Promise.all([startNats(), startClickHouse()]);
    const common = {
      CRAWLDIAG_CLICKHOUSE_URL: `${clickhouse.url}/${DATABASE}`,
      CRAWLDIAG_NATS_URL: nats.urls.join(","),
      ...env,
    };
    if (topology === "one") {
      nodes.push(await startProcess(script, { ...common, CRAWLDIAG_ROLES: "ingest,query,writer" }, nodeArgs));
    } else {
      // One at a time: both create the stream, buckets and schema at start, and need not race for it here.
      nodes.push(await startProcess(script, { ...common, CRAWLDIAG_ROLES: "ingest,query" }, nodeArgs));
      nodes.push(await startProcess(script, { ...common, CRAWLDIAG_ROLES: "writer" }, nodeArgs));
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  const front = nodes[0] as ServerProcess;
  const status = new StatusServiceClient(`127.0.0.1:${front.port}`, credentials.createInsecure());
  const ch = clickhouse;
  const natsUrls = nats.urls;
  const serverPids = children(["clickhouse-server", "nats-server"]);
  return {
    kind: "cluster",
    port: front.port,
    rssMb: () => sum(nodes.map((n) => n.rssMb())),
    peakRssMb: () => sum(nodes.map((n) => n.peakRssMb())),
    settle: () => drained(status),
    storedBytes: async () => {
      const parts = await clickhouseQuery(
        ch.url,
        `SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = '${DATABASE}'`,
      );
      return { store: Number(parts), log: await jetStreamBytes(natsUrls) };
    },
    serversRssMb: () =>
      Object.fromEntries([...serverPids].map(([name, pid]) => [name, statusMb(pid, "VmHWM")] as const)),
    cpuMs: () => ({
      // Split, each node apart: which role costs what.
      ...(topology === "one"
        ? { crawldiag: cpuMs(front.child.pid ?? 0) }
        : { "crawldiag-ingest": cpuMs(front.child.pid ?? 0), "crawldiag-writer": cpuMs(nodes[1]?.child.pid ?? 0) }),
      ...Object.fromEntries([...serverPids].map(([name, pid]) => [name, cpuMs(pid)] as const)),
    }),
    stop: async () => {
      status.close();
      await stopAll();
    },
  };
}

/** Waits until the log holds no batch the writers have not stored; fails if it stops shrinking for a minute. */
async function drained(status: StatusServiceClient): Promise<void> {
  let last = Number.POSITIVE_INFINITY;
  let progressAt = Date.now();
  for (;;) {
    const s = await new Promise<GetServiceStatusResponse>((resolve, reject) =>
      status.getServiceStatus({}, (err: ServiceError | null, res: GetServiceStatusResponse) =>
        err ? reject(err) : resolve(res),
      ),
    );
    if (s.logReachable && s.backlogBatches === 0) return;
    if (s.backlogBatches < last) {
      last = s.backlogBatches;
      progressAt = Date.now();
    } else if (Date.now() - progressAt > 60_000) {
      throw new Error(`the writers stored nothing for a minute; ${s.backlogBatches} batches wait in the log`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function clickhouseQuery(url: string, sql: string): Promise<string> {
  const res = await fetch(`${url}/?query=${encodeURIComponent(sql)}`);
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text}`);
  return text.trim();
}

/** Bytes held by every JetStream stream: the (drained) batch log and the request and claim buckets. */
async function jetStreamBytes(urls: string[]): Promise<number> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await nc.jetstreamManager();
    let bytes = 0;
    for await (const s of jsm.streams.list()) bytes += s.state.bytes;
    return bytes;
  } finally {
    await nc.close();
  }
}

/**
 * The pids of this process's children running one of the named programs: the launchers do not expose theirs,
 * and their memory belongs beside the nodes'.
 */
function children(names: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces, so parse from its closing parenthesis.
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      // The kernel keeps the first 15 characters of a program name.
      const name = names.find((n) => n.slice(0, 15) === comm);
      if (ppid === process.pid && name !== undefined) out.set(name, Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
