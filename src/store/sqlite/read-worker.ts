/**
 * The read worker (see read-pool.ts): answers queries on a connection of its own, so that a long one (a page of a
 * thousand diagnoses reads for hundreds of ms) holds up neither the thread that serves gRPC nor the writer.
 */
import { parentPort, workerData } from "node:worker_threads";
import { DiagnosisCache, type StoreChanges } from "../../domain/diagnosis-cache.js";
import { QUERIES, type QueryName, type ReadContext } from "../../domain/queries.js";
import { toWire } from "../../worker-thread.js";
import { openDb } from "./db.js";
import type { ReadAnswer, ReadSettings } from "./read-pool.js";
import { Reader } from "./reader.js";

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
  answer(m).then((a) => port.postMessage(a));
});

// SQLite answers synchronously, so a query's awaits all settle before the next message is read: queries never
// interleave with each other or with the cache's change messages.
async function answer(m: Ask): Promise<ReadAnswer> {
  try {
    const query = QUERIES[m.name] as (c: ReadContext, q: unknown, nowMs: number) => Promise<unknown>;
    return { id: m.id, result: await query(ctx, m.input, m.nowMs) };
  } catch (e) {
    return { id: m.id, error: toWire(e) };
  }
}
port.postMessage("ready");
