import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface ServerProcess {
  port: number;
  child: ChildProcess;
  /** Peak resident memory so far (VmHWM), in MiB. */
  peakRssMb(): number;
  /** Current resident memory (VmRSS), in MiB. */
  rssMb(): number;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

// A benchmark stopped with Ctrl-C or a signal must not leave its servers running (they ate CPU of later runs).
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

/** Starts a server script (TypeScript through tsx, or built JavaScript) and waits for its "listening" log line. */
export function startProcess(
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<ServerProcess> {
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...loader, script], {
    cwd: ROOT,
    env: { ...process.env, CRAWLDIAG_ADDRESS: "127.0.0.1:0", ...env },
    stdio: ["ignore", "inherit", "pipe"],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      resolve();
    }),
  );
  let err = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${err}`)), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before listening:\n${err}`));
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (err.length < 1 << 16) err += chunk.toString();
      const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(err);
      if (m === null) return;
      clearTimeout(timer);
      // One log line per call follows; only errors are worth showing.
      child.stderr?.removeAllListeners("data");
      child.stderr?.on("data", (more: Buffer) => {
        for (const line of more.toString().split("\n")) {
          if (line.includes('"level":"error"')) process.stderr.write(`${line}\n`);
        }
      });
      const pid = child.pid ?? 0;
      resolve({
        port: Number(m[1]),
        child,
        peakRssMb: () => statusMb(pid, "VmHWM"),
        rssMb: () => statusMb(pid, "VmRSS"),
        stop: () => {
          child.kill("SIGTERM");
          return exited;
        },
      });
    });
  });
}

/** The built server, as `npm start` runs it; rebuilt first when src/ changed since. `--tsx` runs the sources. */
export function serverScript(fromSource: boolean, log: (line: string) => void): string {
  if (fromSource) return "src/main.ts";
  const newest = (d: string): number =>
    Math.max(
      0,
      ...readdirSync(join(ROOT, d), { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(d, e.name)) : statSync(join(ROOT, d, e.name)).mtimeMs,
      ),
    );
  const built = (() => {
    try {
      return statSync(join(ROOT, "dist/main.js")).mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (built < newest("src")) {
    log("building (npm run build)");
    try {
      execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    } catch {
      log("build failed: running the sources through tsx instead");
      return "src/main.ts";
    }
  }
  return "dist/main.js";
}

/** A memory figure of /proc/<pid>/status in MiB; NaN once the process is gone. */
export function statusMb(pid: number, key: string): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return Number.NaN;
  }
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

/** CPU time (user + system) a process has used so far, in ms; NaN once it is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is the 3rd field of the line, utime and stime the 14th and 15th.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

// USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK); Node has no call for it.
const CLOCK_TICKS = 100;
