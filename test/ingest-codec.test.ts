import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type FetchRecord, HttpProtocol } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { RecordFetchesRequest } from "../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { decodeRecordFetches } from "../src/grpc/ingest-codec.js";
import { crawlersOf, scanRequest } from "../src/grpc/ingest-scan.js";
import { Random } from "./support/random.js";
import { record } from "./support/records.js";

// The write worker decodes with ingest-codec.ts; the generated decoder is the reference it must always match.

/** Plain data for comparison: Dates as numbers (NaN included), Buffers as arrays. */
const plain = (v: unknown): unknown =>
  JSON.parse(
    JSON.stringify(v, function (key, value) {
      const raw = (this as Record<string, unknown>)[key];
      if (raw instanceof Date) return { date: String(raw.getTime()) };
      if (Buffer.isBuffer(raw)) return { bytes: [...raw] };
      return value;
    }),
  );

/**
 * Both decoders give the same request, or both fail. For well-formed messages the transport's scans (request_id,
 * record count, crawlers) agree as well; on malformed records the worker's full decode has the last word.
 */
function agree(bytes: Uint8Array, what: string, wellFormed = true): void {
  const buf = Buffer.from(bytes);
  let expected: unknown;
  let expectedError = false;
  try {
    expected = plain(RecordFetchesRequest.decode(buf));
  } catch {
    expectedError = true;
  }
  let actual: unknown;
  let actualError = false;
  try {
    actual = plain(decodeRecordFetches(buf));
  } catch {
    actualError = true;
  }
  assert.is(actualError, expectedError, `${what}: both decoders fail, or neither`);
  assert.equal(actual, expected, what);
  if (expectedError || !wellFormed) return;
  const req = RecordFetchesRequest.decode(buf);
  assert.equal(scanRequest(buf), { requestId: req.requestId, records: req.records.length }, `${what}: scan`);
  assert.equal(crawlersOf(buf), new Set(req.records.map((r) => r.crawler)), `${what}: crawlers`);
}

const encode = (records: FetchRecord[], requestId = "codec-1") =>
  RecordFetchesRequest.encode({ requestId, records }).finish();

test("typical records decode the same as with the generated decoder", () => {
  const records = [
    record(),
    record({ statusCode: 421, retryOf: "f-0", serverSoftware: "nginx", protocol: HttpProtocol.HTTP_PROTOCOL_HTTP1 }),
    record({ connection: { tlsServerName: "", requestIndex: 7, certificateCoversHost: false, viaAltSvc: true } }),
    record({ connection: { certificateSha256: Buffer.alloc(32, 7), originFrameListsHost: true } }),
    record({ connection: null, fetchedAt: undefined, protocol: HttpProtocol.HTTP_PROTOCOL_UNSPECIFIED }),
    record({ fetchedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 123)), statusCode: 4_000_000_000 }),
  ];
  agree(encode(records), "typical");
  agree(encode([]), "empty batch");
  agree(new Uint8Array(), "empty message");
});

test("unusual encodings take the generated decoder's path and agree with it", () => {
  const w = (f: (w: BinaryWriter) => BinaryWriter) => f(new BinaryWriter()).finish();
  const one = RecordFetchesRequest.encode({ requestId: "", records: [record()] }).finish();
  const cases: [string, Uint8Array, boolean?][] = [
    ["non-ASCII strings", encode([record({ url: "https://bücher.example/ü", crawler: "é" })], "id-ü")],
    ["negative protocol", encode([record({ protocol: -1 as HttpProtocol })])],
    ["large protocol", encode([record({ protocol: 0x7fffffff as HttpProtocol })])],
    ["timestamp before 1970", encode([record({ fetchedAt: new Date(-86_400_000) })])],
    ["far future timestamp", encode([record({ fetchedAt: new Date(8.64e15) })])],
    [
      "unknown top-level field",
      w((x) => x.tag(9, WireType.Varint).uint32(5).tag(1, WireType.LengthDelimited).string("a")),
    ],
    [
      "request_id twice",
      w((x) => x.tag(1, WireType.LengthDelimited).string("a").tag(1, WireType.LengthDelimited).string("b")),
    ],
    ["wrong wire type", w((x) => x.tag(1, WireType.Varint).uint32(3))],
    [
      "zero tag",
      w((x) => x.tag(1, WireType.LengthDelimited).string("a").uint32(0).tag(1, WireType.LengthDelimited).string("b")),
    ],
    ["truncated", one.subarray(0, one.length - 3)],
    // The generated decoder ends the record at the zero tag and reads the rest as top-level fields.
    [
      "zero tag inside a record",
      w((x) => x.tag(2, WireType.LengthDelimited).bytes(Uint8Array.of(0, 10, 1, 97))),
      false,
    ],
    [
      "bool as 2",
      w((x) =>
        x
          .tag(2, WireType.LengthDelimited)
          .bytes(w((r) => r.tag(7, WireType.LengthDelimited).bytes(w((c) => c.tag(5, WireType.Varint).uint32(2))))),
      ),
    ],
  ];
  for (const [what, bytes, wellFormed] of cases) agree(bytes, what, wellFormed);
});

test("random records, and random bytes, decode the same with both decoders (seeded)", () => {
  const r = new Random(4);
  const text = () => r.pick(["", "a", "fleet-a", "https://x.example/?q=1", "ü", "\u0000", "x".repeat(300)]);
  for (let n = 0; n < 300; n++) {
    const records = Array.from({ length: r.int(0, 5) }, () =>
      record({
        fetchId: text(),
        crawler: text(),
        url: text(),
        statusCode: r.pick([0, 200, 421, 599, 2 ** 31, 2 ** 32 - 1]),
        fetchedAt: r.chance(0.2) ? undefined : r.pick([new Date(0), new Date(1_700_000_000_123), new Date(-1)]),
        protocol: r.pick([0, 1, 2, 3, 9]) as HttpProtocol,
        retryOf: text(),
        serverSoftware: text(),
        connection: r.pick([
          null,
          {},
          { tlsServerName: text(), requestIndex: r.pick([0, 1, 2 ** 32 - 1]), remoteAddress: text() },
          { certificateSha256: Buffer.alloc(r.int(0, 40), 1), certificateCoversHost: r.pick([true, false]) },
        ]),
      }),
    );
    const bytes = encode(records, text());
    agree(bytes, `random batch ${n}`);
    const noisy = Uint8Array.from(bytes);
    if (noisy.length > 0) noisy[r.int(0, noisy.length - 1)] = r.int(0, 255);
    agree(noisy, `random batch ${n} with one byte changed`, false);
  }
});

test.run();
