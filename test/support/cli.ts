import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./server.js";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The command line as people run it: a child process with its own environment (no CRAWLDIAG_* inherited), and no
 * TTY unless `tty` asks for one.
 */
export function cli(args: string[], env: Record<string, string> = {}, tty = false): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("CRAWLDIAG_") && k !== "NO_COLOR"),
  );
  const argv = [process.execPath, "--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args];
  // util-linux `script` runs the command on a pseudo-terminal, the only honest way to test TTY behaviour.
  const [cmd, ...rest] = tty ? ["script", "-qec", argv.map((a) => `'${a}'`).join(" "), "/dev/null"] : argv;
  const child = spawn(cmd as string, rest, { cwd: ROOT, env: { ...base, ...env } });
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
