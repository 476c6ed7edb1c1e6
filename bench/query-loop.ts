/**
 * A reporting job, in a process of its own so that neither the ingest client's event loop nor its garbage
 * collector delays its calls: GetHostDiagnosis one call at a time over the given hosts, after a warm-up. With a
 * count it makes that many calls; without, it says "ready" and calls until told to stop. Either way it answers
 * with the latencies in ms (bench/run.ts forks it).
 *
 * The warm-up brings the job to the steady state of one that runs all day: for its first thousand calls or so a
 * process runs grpc-js and the generated decoder in V8's interpreter, and a fresh job's health checks had a p99
 * of 4.2-4.5 ms after 50 calls against 1.3-1.6 after 4000 (same server). It asks for the same hosts over a window
 * that ends where the stored fetches begin: the same calls and answers, but the server finds no rows for them, so
 * the measured calls still find none of their diagnoses and none of their window's rows in its caches.
 */
import { Queries } from "./client.js";

export interface QueryPlan {
  port: number;
  hosts: string[];
  startMs: number;
  endMs: number;
  /** Where the stored fetches begin: the warm-up asks for a window of the same length ending there. */
  dataStartMs: number;
  count?: number;
}

const WARM_UP_CALLS = 2000;

let running = true;
process.on("message", async (m: QueryPlan | "stop") => {
  if (m === "stop") {
    running = false;
    return;
  }
  const q = new Queries(m.port);
  const window = { startTime: new Date(m.startMs), endTime: new Date(m.endMs) };
  const empty = { startTime: new Date(m.dataStartMs - (m.endMs - m.startMs)), endTime: new Date(m.dataStartMs) };
  const host = (i: number) => m.hosts[(i * 7919) % m.hosts.length] ?? "";
  for (let i = 0; i < WARM_UP_CALLS; i++) await q.getHostDiagnosis(host(i), empty);
  if (m.count === undefined) process.send?.("ready");
  const ms: number[] = [];
  for (let i = 0; m.count === undefined ? running : i < m.count; i++)
    ms.push(await q.getHostDiagnosis(host(i), window));
  q.close();
  process.send?.(ms, () => process.exit(0));
});
