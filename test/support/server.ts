import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type App, startApp } from "../../src/app.js";
import { readConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { type Clients, connect } from "./client.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface TestServer extends Clients {
  port: number;
  dir: string;
  dbPath: string;
  /** Port of /metrics, when CRAWLDIAG_METRICS_ADDRESS was given. */
  metricsPort: number | undefined;
  /** Stops the server; the temp folder stays until `remove()`. */
  stop(): Promise<void>;
  /** Stops the server and deletes its temp folder. */
  close(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "crawldiag-test-"));
}

/** The real server, in this process, on 127.0.0.1:0 with a SQLite file in a temp folder. */
export async function startTestServer(env: Record<string, string> = {}, dir = tempDir()): Promise<TestServer> {
  const dbPath = join(dir, "crawldiag.db");
  const config = readConfig({
    CRAWLDIAG_ADDRESS: "127.0.0.1:0",
    CRAWLDIAG_DB: dbPath,
    CRAWLDIAG_LOG: "off",
    CRAWLDIAG_SHUTDOWN_GRACE_MS: "2000",
    ...env,
  });
  // Start-up notices would clutter the test output; errors still show.
  const quiet = createLogger("off", (line) => {
    if (line.includes('"level":"error"')) process.stderr.write(line);
  });
  const app: App = await startApp(config, quiet);
  const clients = connect(app.port);
  const stop = async () => {
    clients.closeAll();
    await app.close();
  };
  return {
    ...clients,
    port: app.port,
    metricsPort: app.metricsPort,
    dir,
    dbPath,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ChildServer {
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** The real server as a separate process (node + tsx), for signals and restarts. */
export function spawnServer(env: Record<string, string>): Promise<ChildServer> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env: { ...process.env, CRAWLDIAG_ADDRESS: "127.0.0.1:0", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 20_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, stderr: () => err, exited });
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${err}`));
    });
  });
}
