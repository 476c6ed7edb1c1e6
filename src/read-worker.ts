/**
 * The read worker (see read-pool.ts): answers queries on a connection of its own, so that a long one (a page of a
 * thousand diagnoses reads for hundreds of ms) holds up neither the thread that serves gRPC nor the writer.
 */
import { parentPort, workerData } from "node:worker_threads";
import { QUERIES, type QueryName } from "./domain/queries.js";
import type { Thresholds } from "./domain/thresholds.js";
import type { ReadAnswer, ReadSettings } from "./read-pool.js";
import { openDb } from "./store/db.js";
import { Reader } from "./store/reader.js";
import { toWire } from "./worker-thread.js";

interface Ask {
  id: number;
  name: QueryName;
  input: unknown;
  nowMs: number;
}

const port = parentPort;
if (port === null) throw new Error("read-worker.ts runs as a worker thread (see read-pool.ts)");
const settings = workerData as ReadSettings;
const db = openDb(settings.dbPath, { sync: settings.sync, cacheMb: settings.cacheMb });
const reader = new Reader(db);
const rules: Thresholds = settings.rules;

port.on("message", (m: Ask | "close") => {
  if (m === "close") {
    db.close();
    port.close();
    return;
  }
  let answer: ReadAnswer;
  try {
    const query = QUERIES[m.name] as (s: Reader, t: Thresholds, q: unknown, nowMs: number) => unknown;
    answer = { id: m.id, result: query(reader, rules, m.input, m.nowMs) };
  } catch (e) {
    answer = { id: m.id, error: toWire(e) };
  }
  port.postMessage(answer);
});
port.postMessage("ready");
