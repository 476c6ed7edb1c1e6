import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./server.js";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command line as people run it: a child process with its own environment (no CRAWLDIAG_* inherited). */
export function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("CRAWLDIAG_") && k !== "NO_COLOR"),
  );
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}
