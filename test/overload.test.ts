import { readFileSync, rmSync } from "node:fs";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { type ServiceError, status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import type { RecordFetchesResponse } from "../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { retryDetails } from "../src/grpc/status.js";
import { type Clients, call, connect } from "./support/client.js";
import { fetchCount } from "./support/load.js";
import { record, requestId } from "./support/records.js";
import { spawnServer, startTestServer, tempDir } from "./support/server.js";

const RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo";

interface RpcStatus {
  code: number;
  message: string;
  /** Each detail's type URL, with the delay in ms when it is a RetryInfo. */
  details: { typeUrl: string; retryDelayMs?: number }[];
}

/** google.rpc.Status as carried in grpc-status-details-bin, decoded field by field. */
function decodeStatus(bytes: Uint8Array): RpcStatus {
  const out: RpcStatus = { code: 0, message: "", details: [] };
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) out.code = r.int32();
    else if (field === 2) out.message = r.string();
    else if (field === 3) out.details.push(decodeAny(r.bytes()));
    else r.skip(wire);
  }
  return out;
}

function decodeAny(bytes: Uint8Array): { typeUrl: string; retryDelayMs?: number } {
  const r = new BinaryReader(bytes);
  let typeUrl = "";
  let value: Uint8Array = new Uint8Array();
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) typeUrl = r.string();
    else if (field === 2) value = r.bytes();
    else r.skip(wire);
  }
  if (typeUrl !== RETRY_INFO) return { typeUrl };
  // RetryInfo { retry_delay = 1: Duration { seconds = 1, nanos = 2 } }
  let ms = 0;
  const info = new BinaryReader(value);
  while (info.pos < info.len) {
    const [field, wire] = info.tag();
    if (field !== 1) {
      info.skip(wire);
      continue;
    }
    const d = new BinaryReader(info.bytes());
    while (d.pos < d.len) {
      const [f, w] = d.tag();
      if (f === 1) ms += Number(d.int64()) * 1000;
      else if (f === 2) ms += d.int32() / 1_000_000;
      else d.skip(w);
    }
  }
  return { typeUrl, retryDelayMs: ms };
}

const batchOf = (host: string, n: number): FetchRecord[] =>
  Array.from({ length: n }, (_, i) => record({ url: `https://${host}/p${i}`, statusCode: i % 10 === 0 ? 421 : 200 }));

const send = (c: Clients, id: string, records: FetchRecord[]) =>
  call(c.ingest.recordFetches, c.ingest, { requestId: id, records });

test("the RetryInfo encoder writes google.rpc.Status with the delay as a Duration", () => {
  const st = decodeStatus(retryDetails(status.UNAVAILABLE, "queue full", 1500));
  assert.equal(st, {
    code: status.UNAVAILABLE,
    message: "queue full",
    details: [{ typeUrl: RETRY_INFO, retryDelayMs: 1500 }],
  });
  assert.equal(decodeStatus(retryDetails(status.UNAVAILABLE, "", 80)).details, [
    { typeUrl: RETRY_INFO, retryDelayMs: 80 },
  ]);
});

test("batches beyond the write queue get UNAVAILABLE with a RetryInfo delay, store nothing, and go through when retried", async () => {
  // The queue takes one batch at a time: every batch that arrives while another is being written is refused.
  const s = await startTestServer({ CRAWLDIAG_QUEUE_RECORDS: "100" });
  try {
    const batches = Array.from({ length: 30 }, (_, i) => ({
      id: requestId("overload"),
      host: `b${i}.overload.example.com`,
      records: batchOf(`b${i}.overload.example.com`, 500),
    }));
    const refused: { id: string; host: string; records: FetchRecord[]; delayMs: number }[] = [];
    const answers = await Promise.allSettled(batches.map((b) => send(s, b.id, b.records)));
    answers.forEach((a, i) => {
      const b = batches[i] as (typeof batches)[number];
      if (a.status === "fulfilled") {
        assert.is(a.value.acceptedCount, 500);
        return;
      }
      const err = a.reason as ServiceError;
      assert.is(err.code, status.UNAVAILABLE, err.message);
      const [bin] = err.metadata.get("grpc-status-details-bin");
      assert.ok(Buffer.isBuffer(bin), "grpc-status-details-bin trailer");
      const st = decodeStatus(bin as Buffer);
      assert.is(st.code, status.UNAVAILABLE);
      const retry = st.details.find((d) => d.typeUrl === RETRY_INFO);
      assert.ok(retry?.retryDelayMs !== undefined && retry.retryDelayMs > 0 && retry.retryDelayMs <= 5000);
      refused.push({ ...b, delayMs: retry.retryDelayMs });
    });
    assert.ok(refused.length > 0, "some batches were refused");
    for (const r of refused) assert.is(await fetchCount(s, r.host), 0, `nothing of refused ${r.host} stored`);

    // A client that waits as told, with the same request_id, gets every batch in exactly once.
    for (const r of refused) {
      let res: RecordFetchesResponse | undefined;
      while (res === undefined) {
        await new Promise((done) => setTimeout(done, r.delayMs));
        res = await send(s, r.id, r.records).catch((e: ServiceError) => {
          if (e.code !== status.UNAVAILABLE) throw e;
          return undefined;
        });
      }
      assert.is(res.acceptedCount, 500);
    }
    for (const b of batches) assert.is(await fetchCount(s, b.host), 500, b.host);
  } finally {
    await s.close();
  }
});

const rssMb = (pid: number, key: "VmRSS" | "VmHWM"): number =>
  Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;

test("memory stays bounded when clients send far more than the server can write", async () => {
  const dir = tempDir();
  const server = await spawnServer({ CRAWLDIAG_DB: `${dir}/crawldiag.db`, CRAWLDIAG_QUEUE_RECORDS: "2000" });
  const pid = server.child.pid ?? 0;
  const c = connect(server.port);
  try {
    await send(c, requestId("warm"), batchOf("warm.flood.example.com", 100));
    const before = rssMb(pid, "VmRSS");
    // 12 rounds of 100 concurrent 1000-record batches: about 150 MB of requests, nearly all of them at once
    // more than the queue holds. Refused batches are dropped, not retried: this client only pushes.
    const records = batchOf("flood.example.com", 1000);
    let sentBytes = 0;
    let refused = 0;
    for (let round = 0; round < 12; round++) {
      const answers = await Promise.allSettled(Array.from({ length: 100 }, () => send(c, requestId("flood"), records)));
      for (const a of answers) {
        if (a.status === "rejected") {
          assert.is((a.reason as ServiceError).code, status.UNAVAILABLE);
          refused++;
        }
      }
      sentBytes += 100 * 125 * 1000;
    }
    const growth = rssMb(pid, "VmHWM") - before;
    const mb = (sentBytes / 2 ** 20).toFixed(0);
    console.log(`  overload: ${mb} MB in 1200 batches, ${refused} refused; peak RSS grew ${growth.toFixed(0)} MB`);
    assert.ok(refused > 0, "the queue overflowed");
    assert.ok(growth < 200, `peak RSS grew by ${growth.toFixed(0)} MB for ${mb} MB sent`);
  } finally {
    c.closeAll();
    server.child.kill("SIGTERM");
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
