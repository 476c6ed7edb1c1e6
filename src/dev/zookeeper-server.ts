// A standalone ZooKeeper for the local ClickHouse cluster: ON CLUSTER DDL and Replicated tables need it on 18.16.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts, scratch, tracked, watchdog } from "./local.js";

const READY_MS = 20_000;
const ZOOKEEPER_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";

/** A standalone ZooKeeper (Debian package zookeeper) on a free port, data in a temp folder. */
export async function startZooKeeper(): Promise<{ port: number; close(): Promise<void> }> {
  if (!existsSync("/usr/share/java/zookeeper.jar")) {
    throw new Error("ZooKeeper not found: apt-get install zookeeper (the cluster test needs it)");
  }
  const dir = mkdtempSync(join(tmpdir(), "crawldiag-zookeeper-"));
  scratch.add(dir);
  const [port = 0] = await freePorts(1);
  const p = spawn(
    "java",
    [
      "-Dzookeeper.admin.enableServer=false",
      "-cp",
      ZOOKEEPER_CLASSPATH,
      "org.apache.zookeeper.server.ZooKeeperServerMain",
      String(port),
      dir,
    ],
    { stdio: "ignore" },
  );
  tracked.add(p);
  const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
  watchdog(p, dir);
  const deadline = Date.now() + READY_MS;
  for (;;) {
    if (await serves(port)) break;
    if (Date.now() > deadline || p.exitCode !== null) {
      p.kill("SIGKILL");
      throw new Error("ZooKeeper did not start");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    close: async () => {
      p.kill("SIGKILL");
      await exited;
      tracked.forget(p);
      scratch.remove(dir);
    },
  };
}

/** Whether ZooKeeper answers "srvr" (a listening port is not enough: ClickHouse's handshake then fails). */
function serves(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = "";
    const s = connect(port, "127.0.0.1", () => s.end("srvr"));
    s.on("data", (b: Buffer) => {
      answer += b.toString();
    });
    s.once("close", () => resolve(answer.includes("Zookeeper version")));
    s.once("error", () => resolve(false));
    // A server still starting may take the connection and say nothing.
    s.setTimeout(1000, () => s.destroy());
  });
}
