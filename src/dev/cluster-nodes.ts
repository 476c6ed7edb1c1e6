// The crawldiag nodes of `npm run dev:cluster`: real processes (src/main.ts), as deployed, with prefixed logs.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { credentials, Metadata } from "@grpc/grpc-js";
import { StatusServiceClient } from "../gen/webmasterid/crawldiag/v1/status.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
// A node listens once the log's stream, buckets and consumer exist with 3 replicas. On a CI machine that once
// took longer than 30 s (the node printed nothing meanwhile; the cause was not found).
const LISTEN_MS = 90_000;
// The first node creates the ON CLUSTER schema through ZooKeeper: seconds on 18.16.
const BACKING_MS = 90_000;
// Past the node's own grace for in-flight calls (CRAWLDIAG_SHUTDOWN_GRACE_MS below) plus closing the log.
const STOP_MS = 15_000;

export interface DevNode {
  name: string;
  address: string;
  pid: number | undefined;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** Resolves once the node reaches both NATS and ClickHouse (its schema is then in place). */
  backingReady(): Promise<void>;
  /** SIGTERM (a graceful shutdown), SIGKILL if it has not exited in STOP_MS. */
  stop(): Promise<void>;
}

/** Starts `node --import tsx src/main.ts` with `env`, resolving once it listens; its log lines go to `out`. */
export async function startNode(
  name: string,
  port: number,
  env: Record<string, string>,
  out: (line: string) => void,
): Promise<DevNode> {
  const address = `127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: ROOT,
    // The caller's other CRAWLDIAG_* settings (CRAWLDIAG_LOG, CRAWLDIAG_RULES...) pass through.
    env: { ...process.env, CRAWLDIAG_SHUTDOWN_GRACE_MS: "5000", ...env, CRAWLDIAG_ADDRESS: address },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not listen in ${LISTEN_MS} ms`)), LISTEN_MS);
    const lines = (line: string) => {
      out(`${name} | ${line}`);
      if (line.includes('"msg":"listening"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    eachLine(child, lines);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening`));
    });
  });
  try {
    await listening;
  } catch (e) {
    child.kill("SIGKILL");
    await exited;
    throw e;
  }
  return {
    name,
    address,
    pid: child.pid,
    exited,
    backingReady: () => backingReady(address, exited),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_MS);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Calls `fn` with every whole line the child writes on stdout or stderr. */
function eachLine(child: ChildProcess, fn: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) fn(line);
    });
    stream?.on("end", () => {
      if (rest !== "") fn(rest);
    });
  }
}

async function backingReady(address: string, exited: Promise<number | string>): Promise<void> {
  const status = new StatusServiceClient(address, credentials.createInsecure());
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  try {
    const deadline = Date.now() + BACKING_MS;
    for (;;) {
      const s = await new Promise<{ storeReachable: boolean; logReachable: boolean } | undefined>((resolve) =>
        status.getServiceStatus({}, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
          resolve(err ? undefined : res),
        ),
      );
      if (s?.storeReachable && s.logReachable) return;
      if (gone) throw new Error(`${address} exited before reaching NATS and ClickHouse`);
      if (Date.now() > deadline) throw new Error(`${address} did not reach NATS and ClickHouse in ${BACKING_MS} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    status.close();
  }
}
