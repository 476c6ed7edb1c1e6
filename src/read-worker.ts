/**
 * The read worker (see read-pool.ts): answers queries on a connection of its own, so that a long one (a page of a
 * thousand diagnoses reads for hundreds of ms) holds up neither the thread that serves gRPC nor the writer.
 */
import { parentPort, workerData } from "node:worker_threads";
import { DiagnosisCache, type StoreChanges } from "./domain/diagnosis-cache.js";
import { QUERIES, type QueryName, type ReadContext } from "./domain/queries.js";
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
const ctx: ReadContext = { store: new Reader(db), rules: settings.rules, cache: new DiagnosisCache() };

port.on("message", (m: Ask | "close" | { changes: StoreChanges | "all" }) => {
  if (m === "close") {
    db.close();
    port.close();
    return;
  }
  if ("changes" in m) {
    if (m.changes === "all") ctx.cache.clear();
    else ctx.cache.changed(m.changes);
    return;
  }
  let answer: ReadAnswer;
  try {
    const query = QUERIES[m.name] as (c: ReadContext, q: unknown, nowMs: number) => unknown;
    answer = { id: m.id, result: query(ctx, m.input, m.nowMs) };
  } catch (e) {
    answer = { id: m.id, error: toWire(e) };
  }
  port.postMessage(answer);
});
port.postMessage("ready");
