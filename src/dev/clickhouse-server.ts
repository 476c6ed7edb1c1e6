// Local servers on loopback for `npm run dev:cluster`, the tests and the benchmark; never used in production.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts, scratch, tracked, watchdog } from "./local.js";
import { startZooKeeper } from "./zookeeper-server.js";

/** A ClickHouse server of the tests' own: loopback, free ports, data in a temp folder. */
export interface TestClickHouse {
  /** http://127.0.0.1:<port> (append /<database>); user `default` without a password. */
  url: string;
  /** The same server as user `crawldiag`, password `secret`, to check credentials in URLs. */
  urlWithCredentials: string;
  httpPort: number;
  /** SIGTERM, SIGKILL if it has not exited in 5 s; data and ports are kept for start(). */
  stop(): Promise<void>;
  /** SIGKILL now, as a crash. */
  kill(): void;
  /** Starts it again after stop() or kill(), on the same ports and data. */
  start(): Promise<void>;
  /** Kill the server and remove its folder. */
  close(): Promise<void>;
}

const BINARIES = ["/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"];
const READY_MS = 20_000;
const STOP_MS = 5_000;

interface Ports {
  http: number;
  tcp: number;
  interserver: number;
}

async function portsOf(): Promise<Ports> {
  const [http = 0, tcp = 0, interserver = 0] = await freePorts(3);
  return { http, tcp, interserver };
}

function config(dir: string, ports: Ports, extra: string): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/error.log</errorlog>
    <size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <!-- Idle keep-alive connections count as unfinished: waiting for them made every stop take 5 s. -->
  <shutdown_wait_unfinished>1</shutdown_wait_unfinished>
${extra}
</yandex>
`;
}

const USERS = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile>
      <quota>default</quota></default>
    <crawldiag><password>secret</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile>
      <quota>default</quota></crawldiag>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>
    <read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

/** Starts a fresh server; about 0.3 s on this machine. `ports` and `extra` (config elements) are for clusters. */
export async function startClickHouse(opts: { ports?: Ports; extra?: string } = {}): Promise<TestClickHouse> {
  const binary = BINARIES.find((b) => existsSync(b));
  if (binary === undefined) {
    throw new Error("clickhouse-server not found (Debian package clickhouse-server 18.16; .ci/run installs it)");
  }
  const dir = mkdtempSync(join(tmpdir(), "crawldiag-clickhouse-"));
  scratch.add(dir);
  const ports = opts.ports ?? (await portsOf());
  writeFileSync(join(dir, "config.xml"), config(dir, ports, opts.extra ?? ""));
  writeFileSync(join(dir, "users.xml"), USERS);
  const url = `http://127.0.0.1:${ports.http}`;
  let proc: ChildProcess | undefined;

  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    // After kill() the process may not have been reaped yet.
    if (proc?.killed) await exited;
    if (proc !== undefined) throw new Error("ClickHouse is already running");
    const p = spawn(binary, [`--config-file=${join(dir, "config.xml")}`], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr?.on("data", (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    proc = p;
    tracked.add(p);
    exited = new Promise((resolve) =>
      p.once("exit", () => {
        tracked.forget(p);
        if (proc === p) proc = undefined;
        resolve();
      }),
    );
    watchdog(p, dir);
    try {
      await ready(url, p);
    } catch (e) {
      p.kill("SIGKILL");
      throw new Error(`ClickHouse did not start: ${(e as Error).message}\n${stderr}${logTail(dir)}`);
    }
  };
  const stop = async () => {
    const p = proc;
    if (p === undefined) return;
    const timer = p.killed ? undefined : setTimeout(() => p.kill("SIGKILL"), STOP_MS);
    if (!p.killed) p.kill("SIGTERM");
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    url,
    urlWithCredentials: `http://crawldiag:secret@127.0.0.1:${ports.http}`,
    httpPort: ports.http,
    start,
    stop,
    kill: () => {
      proc?.kill("SIGKILL");
    },
    close: async () => {
      // The data goes anyway: no need to wait for a clean shutdown (about 2.5 s for 18.16).
      proc?.kill("SIGKILL");
      await stop();
      scratch.remove(dir);
    },
  };
}

/** Waits for GET /ping to answer "Ok.", failing early if the server exits. */
async function ready(url: string, p: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_MS;
  while (Date.now() < deadline) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`exited (${p.exitCode ?? p.signalCode})`);
    try {
      const res = await fetch(`${url}/ping`);
      if ((await res.text()).trim() === "Ok.") return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no answer to /ping in ${READY_MS} ms`);
}

function logTail(dir: string): string {
  try {
    return readFileSync(join(dir, "log", "error.log"), "utf8").slice(-2000);
  } catch {
    return "";
  }
}

/** Shards on this machine, one server each, with ZooKeeper for ON CLUSTER DDL and replicated tables. */
export interface TestCluster {
  /** The cluster's name in every node's remote_servers. */
  name: string;
  nodes: TestClickHouse[];
  close(): Promise<void>;
}

export async function startClickHouseCluster(shards = 2): Promise<TestCluster> {
  const zk = await startZooKeeper();
  const name = "crawldiag_test";
  const ports: Ports[] = [];
  for (let i = 0; i < shards; i++) ports.push(await portsOf());
  const replicas = ports.map((p) => `<shard><replica><host>127.0.0.1</host><port>${p.tcp}</port></replica></shard>`);
  const nodes: TestClickHouse[] = [];
  try {
    for (const [i, p] of ports.entries()) {
      const extra = `<remote_servers><${name}>${replicas.join("")}</${name}></remote_servers>
  <zookeeper><node><host>127.0.0.1</host><port>${zk.port}</port></node></zookeeper>
  <macros><shard>${i + 1}</shard><replica>r1</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>`;
      nodes.push(await startClickHouse({ ports: p, extra }));
    }
    for (const n of nodes) await ddlReady(n.url);
  } catch (e) {
    for (const n of nodes) await n.close();
    await zk.close();
    throw e;
  }
  return {
    name,
    nodes,
    close: async () => {
      for (const n of nodes) await n.close();
      await zk.close();
    },
  };
}

/**
 * Waits for the node's DDL worker to have created its queue in ZooKeeper: 18.16 crashed on an ON CLUSTER
 * statement that came before (seen in the first second after start).
 */
async function ddlReady(url: string): Promise<void> {
  const query = encodeURIComponent("SELECT count() FROM system.zookeeper WHERE path = '/clickhouse/task_queue'");
  const deadline = Date.now() + READY_MS;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/?query=${query}`).catch(() => undefined);
    if (res?.ok && Number(await res.text()) > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`ClickHouse at ${url}: no distributed DDL queue in ZooKeeper after ${READY_MS} ms`);
}
