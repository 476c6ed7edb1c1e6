/**
 * A reporting job, in a process of its own so that neither the ingest client's event loop nor its garbage
 * collector delays its calls: GetHostDiagnosis one call at a time over the given hosts, after a warm-up. With a
 * count it makes that many calls; without, it says "ready" and calls until told to stop. Either way it answers
 * with the latencies in ms (bench/run.ts forks it).
 */
import { Queries } from "./client.js";

export interface QueryPlan {
  port: number;
  hosts: string[];
  startMs: number;
  endMs: number;
  count?: number;
}

let running = true;
process.on("message", async (m: QueryPlan | "stop") => {
  if (m === "stop") {
    running = false;
    return;
  }
  const q = new Queries(m.port);
  const window = { startTime: new Date(m.startMs), endTime: new Date(m.endMs) };
  const host = (i: number) => m.hosts[(i * 7919) % m.hosts.length] ?? "";
  for (let i = 0; i < 50; i++) await q.getHostDiagnosis(host(i), window);
  if (m.count === undefined) process.send?.("ready");
  const ms: number[] = [];
  for (let i = 0; m.count === undefined ? running : i < m.count; i++)
    ms.push(await q.getHostDiagnosis(host(i), window));
  q.close();
  process.send?.(ms, () => process.exit(0));
});
