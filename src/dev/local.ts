// What the local server launchers share: free loopback ports, and never leaving a server or its folder behind.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer } from "node:net";

const live = new Set<ChildProcess>();
const folders = new Set<string>();

// A process that ends (or fails) must not leave servers behind; a SIGKILLed one is covered by the watchdog.
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

/** Free loopback ports: listen on port 0, note the port, close (a tiny race with other processes, fine here). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Kills the process when this one exits; forget() once it has ended on its own terms. */
export const tracked = {
  add: (p: ChildProcess) => live.add(p),
  forget: (p: ChildProcess) => live.delete(p),
};

/** Removes the folder when this process exits, unless forgotten (removed) before. */
export const scratch = {
  add: (dir: string) => folders.add(dir),
  remove: (dir: string) => {
    rmSync(dir, { recursive: true, force: true });
    folders.delete(dir);
  },
};

/**
 * A detached shell that SIGKILLs the server and removes its folder if this process dies without its exit
 * handler (a signal, SIGKILL, OOM).
 */
export function watchdog(p: ChildProcess, dir: string): void {
  const script = `while kill -0 ${process.pid} && kill -0 ${p.pid}; do sleep 1; done 2>/dev/null
    kill -0 ${process.pid} 2>/dev/null || { kill -9 ${p.pid}; sleep 1; rm -rf '${dir}'; } 2>/dev/null`;
  spawn("sh", ["-c", script], { detached: true, stdio: "ignore" }).unref();
}
