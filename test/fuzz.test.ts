import { rmSync } from "node:fs";
import { join } from "node:path";
import { Client, credentials, Metadata, status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  GetHostDiagnosisRequest,
  GetHostStatsRequest,
  ListCrawlerAlertsRequest,
  ListHostDiagnosesRequest,
} from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { RecordFetchesRequest, RecordFetchesResponse } from "../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { type FuzzRecord, fuzzRecord } from "./support/fuzz-values.js";
import { healthCheck } from "./support/health.js";
import { Random } from "./support/random.js";
import { spawnServer, tempDir } from "./support/server.js";
import { assertStoredValid } from "./support/store-checks.js";

// Bounded and seeded: the same cases every run. 3,200 calls in all.
const SEED = 0x5eed_f022;
const STRUCTURED = 2000;
const MUTATED = 600;
const RANDOM_BYTES = 380;
const OVERSIZED = 20;
const READ_RANDOM = 200;
const MAX_BATCH = 50;

const INGEST = "/webmasterid.crawldiag.v1.IngestService/RecordFetches";
const READS = [
  ["/webmasterid.crawldiag.v1.DiagnosisService/GetHostStats", GetHostStatsRequest],
  ["/webmasterid.crawldiag.v1.DiagnosisService/GetHostDiagnosis", GetHostDiagnosisRequest],
  ["/webmasterid.crawldiag.v1.DiagnosisService/ListHostDiagnoses", ListHostDiagnosesRequest],
  ["/webmasterid.crawldiag.v1.DiagnosisService/ListCrawlerAlerts", ListCrawlerAlertsRequest],
] as const;

interface Answer {
  code: number;
  details: string;
  bytes?: Buffer;
}

/** One unary call with bytes as the message: the server's decoder gets exactly what the fuzzer made. */
function send(client: Client, path: string, bytes: Buffer): Promise<Answer> {
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new Metadata(),
      { deadline: Date.now() + 30_000 },
      (err, res) =>
        resolve(err ? { code: err.code, details: err.details } : { code: status.OK, details: "", bytes: res }),
    ),
  );
}

const decodes = (decode: () => unknown): boolean => {
  try {
    decode();
    return true;
  } catch {
    return false;
  }
};

function mutate(r: Random, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let m = r.int(1, 4); m > 0; m--) {
    const at = r.int(0, Math.max(0, b.length - 1));
    const op = r.int(0, 3);
    if (op === 0 && b.length > 0) b[at] = r.int(0, 255);
    else if (op === 1) b = Buffer.concat([b.subarray(0, at), b.subarray(at + r.int(1, 16))]);
    else if (op === 2) b = Buffer.concat([b.subarray(0, at), r.bytes(r.int(1, 8)), b.subarray(at)]);
    else b = b.subarray(0, at);
  }
  return b;
}

const LEAK = /\n\s+at |\/src\/|Error:|SQLITE/;

test("fuzz: every answer is OK with per-record rejections or INVALID_ARGUMENT/RESOURCE_EXHAUSTED; nothing invalid is stored", async () => {
  const dir = tempDir();
  const dbPath = join(dir, "crawldiag.db");
  const server = await spawnServer({
    CRAWLDIAG_DB: dbPath,
    CRAWLDIAG_SYNC: "NORMAL",
    CRAWLDIAG_MAX_BATCH: String(MAX_BATCH),
    CRAWLDIAG_LOG: "off",
  });
  const client = new Client(`127.0.0.1:${server.port}`, credentials.createInsecure());
  const r = new Random(SEED);
  const stored = new Map<string, { bytes: Buffer; answer: Buffer }>();
  const sent: Buffer[] = [];
  const codes = new Map<string, number>();
  // The server's own account of an unexpected answer, for the failure message.
  const lastError = () =>
    server
      .stderr()
      .split("\n")
      .filter((l) => l.includes('"level":"error"'))
      .pop() ?? "";
  const tally = (code: number) => {
    const name = status[code] ?? String(code);
    codes.set(name, (codes.get(name) ?? 0) + 1);
  };
  let acceptedTotal = 0;
  let recordNo = 0;
  let cases = 0;

  /** Checks an ingest answer against what the bytes decode to; keeps the ledger of what must be stored. */
  const ingestCase = async (bytes: Buffer, label: string): Promise<Answer> => {
    cases++;
    const a = await send(client, INGEST, bytes);
    tally(a.code);
    assert.not.match(a.details, LEAK, `${label}: internals in "${a.details}"`);
    let req: RecordFetchesRequest | undefined;
    try {
      req = RecordFetchesRequest.decode(bytes);
    } catch (e) {
      assert.ok(
        a.code === status.INVALID_ARGUMENT || a.code === status.RESOURCE_EXHAUSTED,
        `${label}: ${status[a.code]} ${a.details} ${e} ${lastError()}`,
      );
      return a;
    }
    const prior = stored.get(req.requestId);
    if (a.code === status.ALREADY_EXISTS) {
      assert.ok(prior !== undefined && !prior.bytes.equals(bytes), `${label}: ALREADY_EXISTS for a new request_id`);
      return a;
    }
    assert.ok(
      [status.OK, status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED].includes(a.code),
      `${label}: ${status[a.code]} ${a.details} ${lastError()}`,
    );
    if (a.code === status.OK) {
      const res = RecordFetchesResponse.decode(a.bytes ?? Buffer.alloc(0));
      if (res.replayed) {
        assert.ok(prior?.bytes.equals(bytes), `${label}: replayed a request never stored`);
        assert.equal({ ...res, replayed: false }, RecordFetchesResponse.decode(prior?.answer ?? Buffer.alloc(0)));
      } else {
        assert.is(prior, undefined, `${label}: stored a request_id twice`);
        assert.is(res.acceptedCount + res.rejectedCount, req.records.length, `${label}: counts`);
        for (const x of res.rejections) assert.ok(x.index < req.records.length && x.field !== "" && x.reason !== "");
        stored.set(req.requestId, { bytes, answer: a.bytes ?? Buffer.alloc(0) });
        acceptedTotal += res.acceptedCount;
      }
    }
    return a;
  };

  try {
    for (let i = 0; i < STRUCTURED; i++) {
      const n = r.chance(0.03) ? MAX_BATCH + r.int(0, 1) : r.int(0, 8);
      const recs: FuzzRecord[] = Array.from({ length: n }, () => fuzzRecord(r, ++recordNo));
      const roll = r.next();
      const earlier = [...stored.keys()];
      const badId = roll >= 0.85 && roll < 0.9;
      const requestId = badId
        ? r.pick(["", "i".repeat(65), "bad id", "\u00e9t\u00e9", "a/b"])
        : roll >= 0.9 && earlier.length > 0
          ? r.pick(earlier)
          : `fz-${i}`;
      const bytes = Buffer.from(
        RecordFetchesRequest.encode({ requestId, records: recs.map((x) => x.record) }).finish(),
      );
      const label = `structured #${i}`;
      const prior = stored.get(requestId);
      // A replay of the very same bytes, now and then.
      const toSend = prior !== undefined && r.chance(0.5) ? prior.bytes : bytes;
      sent.push(toSend);
      const a = await ingestCase(toSend, label);
      if (badId || (n > MAX_BATCH && toSend === bytes)) {
        assert.is(status[a.code], "INVALID_ARGUMENT", label);
        continue;
      }
      if (prior !== undefined) {
        if (toSend === bytes && !bytes.equals(prior.bytes)) assert.is(status[a.code], "ALREADY_EXISTS", label);
        else
          assert.ok(a.code === status.OK && RecordFetchesResponse.decode(a.bytes ?? Buffer.alloc(0)).replayed, label);
        continue;
      }
      assert.is(status[a.code], "OK", label);
      const res = RecordFetchesResponse.decode(a.bytes ?? Buffer.alloc(0));
      const rejected = new Map(res.rejections.map((x) => [x.index, x.field]));
      recs.forEach((x, index) => {
        const field = rejected.get(index);
        if (x.verdict === "valid") assert.is(field, undefined, `${label} record ${index} wrongly rejected (${field})`);
        if (x.verdict === "invalid") assert.is(field, x.field, `${label} record ${index} with a bad ${x.field}`);
        if (x.verdict === "either" && field !== undefined) assert.is(field, x.field, `${label} record ${index}`);
      });
    }
    for (let i = 0; i < MUTATED; i++) {
      await ingestCase(mutate(r, r.pick(sent)), `mutated #${i}`);
    }
    for (let i = 0; i < RANDOM_BYTES; i++) {
      await ingestCase(r.bytes(r.int(0, 600)), `random #${i}`);
    }
    for (let i = 0; i < OVERSIZED; i++) {
      // Far beyond any batch of MAX_BATCH records: refused by size before it is decoded.
      const a = await ingestCase(Buffer.alloc(1024 * 1024 + r.int(0, 4096), r.int(0, 255)), `oversized #${i}`);
      assert.is(status[a.code], "RESOURCE_EXHAUSTED");
    }
    for (let i = 0; i < READ_RANDOM; i++) {
      const [path, codec] = r.pick(READS);
      const bytes = r.bytes(r.int(0, 200));
      const a = await send(client, path, bytes);
      cases++;
      tally(a.code);
      const ok = decodes(() => codec.decode(bytes))
        ? [status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND]
        : [status.INVALID_ARGUMENT];
      assert.ok(ok.includes(a.code), `read #${i} ${path}: ${status[a.code]} ${a.details}`);
      assert.not.match(a.details, LEAK);
    }
    assert.is(server.child.exitCode, null, "the server is still running");
    assert.is(await healthCheck(client, ""), "SERVING");
  } finally {
    client.close();
    server.child.kill("SIGTERM");
  }
  assert.is(await server.exited, 0);
  process.stdout.write(`  fuzz: ${cases} cases, answers ${JSON.stringify(Object.fromEntries(codes))}\n`);
  assert.ok((codes.get("OK") ?? 0) > STRUCTURED / 2 && (codes.get("INVALID_ARGUMENT") ?? 0) > 0);

  try {
    assertStoredValid(dbPath, { records: acceptedTotal, requests: stored.size });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
