// Local servers on loopback for `npm run dev:cluster`, the tests and the benchmark; never used in production.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { freePorts, scratch, tracked } from "./local.js";

const NATS_SERVER = "/usr/sbin/nats-server";

export interface TestNats {
  /** nats://127.0.0.1:port of each node. */
  urls: string[];
  /** Stops every node and deletes the temp folder. */
  stop(): Promise<void>;
  /** SIGKILLs node i (default 0): its data stays, start(i) brings it back. */
  kill(i?: number): void;
  /** Restarts node i (default 0) on the same port and data; resolves once its client port answers. */
  start(i?: number): Promise<void>;
}

/** Debian's nats-server with JetStream, one node or a 3-node cluster on loopback, data in a fresh temp folder. */
export async function startNats(opts: { nodes?: 1 | 3 } = {}): Promise<TestNats> {
  if (!existsSync(NATS_SERVER)) {
    throw new Error(`${NATS_SERVER} is missing: .ci/run installs it (Debian package nats-server)`);
  }
  const nodes = opts.nodes ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "crawldiag-nats-"));
  scratch.add(dir);
  const ports = await freePorts(nodes * 2);
  const clientPort = (i: number) => ports[i] ?? 0;
  const routePort = (i: number) => ports[nodes + i] ?? 0;
  const confs = Array.from({ length: nodes }, (_, i) => {
    const routes = Array.from({ length: nodes }, (_, j) => `"nats-route://127.0.0.1:${routePort(j)}"`);
    const cluster =
      nodes === 1
        ? ""
        : `cluster { name: "crawldiag-test", listen: "127.0.0.1:${routePort(i)}", routes: [${routes.join(", ")}] }`;
    const file = join(dir, `n${i}.conf`);
    writeFileSync(
      file,
      `server_name: "n${i}"
listen: "127.0.0.1:${clientPort(i)}"
# Room for a batch of CRAWLDIAG_MAX_BATCH records in one message, as a deployment needs (default 1 MB).
max_payload: 8MB
jetstream { store_dir: "${join(dir, `n${i}`)}" }
${cluster}
`,
    );
    return file;
  });
  const procs: (ChildProcess | undefined)[] = [];
  // Killed or stopped on purpose: their exit is not worth a message.
  const meant = new Set<ChildProcess>();
  const urls = confs.map((_, i) => `nats://127.0.0.1:${clientPort(i)}`);

  const launch = (i: number) => {
    const p = spawn(NATS_SERVER, ["-c", confs[i] ?? ""], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr?.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    p.once("exit", (code) => {
      tracked.forget(p);
      if (!meant.has(p) && code !== 0) process.stderr.write(`nats-server n${i} exited ${code}: ${err}\n`);
    });
    tracked.add(p);
    procs[i] = p;
  };
  const kill = (i = 0) => {
    const p = procs[i];
    if (p !== undefined) meant.add(p);
    p?.kill("SIGKILL");
    procs[i] = undefined;
  };
  const stop = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          p &&
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            meant.add(p);
            p.once("exit", () => resolve());
            p.kill("SIGTERM");
          }),
      ),
    );
    scratch.remove(dir);
  };

  for (let i = 0; i < nodes; i++) launch(i);
  try {
    await jetStreamReady(urls, 30_000, nodes);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    urls,
    stop,
    kill,
    start: async (i = 0) => {
      launch(i);
      await jetStreamReady([urls[i] ?? ""], 30_000);
    },
  };
}

/**
 * Resolves once JetStream answers through each url (a cluster first elects its meta leader) and, for a cluster,
 * once a stream with a copy on every node can be placed (peers join the meta group one by one).
 */
async function jetStreamReady(urls: string[], timeoutMs: number, replicas = 1): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      try {
        const nc = await connect({ servers: url, timeout: 1000, reconnect: false });
        try {
          const jsm = await nc.jetstreamManager({ timeout: 1000 });
          await jsm.getAccountInfo();
          if (replicas > 1) {
            await jsm.streams.add({ name: "READY_CHECK", subjects: ["ready.check"], num_replicas: replicas });
            await jsm.streams.delete("READY_CHECK");
            replicas = 1;
          }
          break;
        } finally {
          await nc.close();
        }
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`nats-server ${url}: JetStream not ready: ${String(e)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}
