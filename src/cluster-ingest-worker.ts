// A cluster node's decoding thread (store/nats/checker-thread.ts): decodes and validates the batches ingest takes,
// and prepares those this node's writer stores as the ClickHouse store wants them, from ingest or from the log.
import { parentPort } from "node:worker_threads";
import { prepareBatch } from "./store/clickhouse/raw.js";
import { BatchChecks } from "./store/nats/batch-check.js";
import type { CheckerReply, CheckerRequest } from "./store/nats/checker-thread.js";
import { toWire } from "./worker-thread.js";

const port = parentPort;
if (port === null) throw new Error("cluster-ingest-worker runs as a worker thread");
const checks = new BatchChecks(prepareBatch);

port.on("message", (m: CheckerRequest) => {
  if (m.t === "forget") {
    checks.forget(m.job);
    return;
  }
  let reply: CheckerReply;
  try {
    const value =
      m.t === "check"
        ? checks.check(m.input)
        : m.t === "prepare"
          ? checks.prepare(m.job, m.seq, m.refused)
          : checks.replay(m.seq, m.bytes, m.context);
    reply = { id: m.id, value };
  } catch (e) {
    reply = { id: m.id, error: toWire(e) };
  }
  port.postMessage(reply);
});
port.postMessage("ready");
