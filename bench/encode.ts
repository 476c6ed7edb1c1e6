/**
 * A hand-written protobuf encoder for RecordFetchesRequest, for the benchmark client only. Ten million records
 * through the generated encoder would cost the client more CPU than the server spends on them, on a machine
 * where both share two cores; this one writes ASCII straight into one buffer per batch.
 * Field numbers are those of proto/webmasterid/crawldiag/v1/{ingest,fetch}.proto.
 */

export interface BenchRecord {
  fetchId: string;
  crawler: string;
  url: string;
  statusCode: number;
  timeMs: number;
  protocol: number;
  connectionId: string;
  /** undefined = not reported. */
  sni: string | undefined;
  requestIndex: number;
  remoteAddress: string;
  certCovers: boolean | undefined;
  certSha256: Buffer | undefined;
  retryOf: string;
  serverSoftware: string;
}

const varintSize = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);
// Length-delimited field of n bytes with a one-byte tag.
const field = (n: number): number => 1 + varintSize(n) + n;

class Sink {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  varint(v: number): void {
    while (v > 0x7f) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  ascii(tag: number, s: string): void {
    this.buf[this.pos++] = tag;
    this.varint(s.length);
    // A loop beats the native write for the short strings of a record.
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
  }

  bytes(tag: number, b: Buffer): void {
    this.buf[this.pos++] = tag;
    this.varint(b.length);
    for (let i = 0; i < b.length; i++) this.buf[this.pos++] = b[i] ?? 0;
  }
}

// Sizes are computed first so that every message is written in place, without copying.
function connectionSize(r: BenchRecord): number {
  return (
    field(r.connectionId.length) +
    (r.sni === undefined ? 0 : field(r.sni.length)) +
    1 +
    varintSize(r.requestIndex) +
    field(r.remoteAddress.length) +
    (r.certCovers === undefined ? 0 : 2) +
    (r.certSha256 === undefined ? 0 : field(r.certSha256.length))
  );
}

const seconds = (r: BenchRecord): number => Math.floor(r.timeMs / 1000);
const nanos = (r: BenchRecord): number => (r.timeMs % 1000) * 1_000_000;
const stampSize = (r: BenchRecord): number =>
  1 + varintSize(seconds(r)) + (nanos(r) === 0 ? 0 : 1 + varintSize(nanos(r)));

function recordSize(r: BenchRecord, conn: number): number {
  return (
    field(r.fetchId.length) +
    field(r.crawler.length) +
    field(r.url.length) +
    1 +
    varintSize(r.statusCode) +
    field(stampSize(r)) +
    (r.protocol === 0 ? 0 : 2) +
    field(conn) +
    (r.retryOf === "" ? 0 : field(r.retryOf.length)) +
    (r.serverSoftware === "" ? 0 : field(r.serverSoftware.length))
  );
}

function writeRecord(out: Sink, r: BenchRecord, conn: number): void {
  out.ascii(0x0a, r.fetchId);
  out.ascii(0x12, r.crawler);
  out.ascii(0x1a, r.url);
  out.buf[out.pos++] = 0x20;
  out.varint(r.statusCode);
  out.buf[out.pos++] = 0x2a;
  out.varint(stampSize(r));
  out.buf[out.pos++] = 0x08;
  out.varint(seconds(r));
  if (nanos(r) !== 0) {
    out.buf[out.pos++] = 0x10;
    out.varint(nanos(r));
  }
  if (r.protocol !== 0) {
    out.buf[out.pos++] = 0x30;
    out.varint(r.protocol);
  }
  out.buf[out.pos++] = 0x3a;
  out.varint(conn);
  out.ascii(0x0a, r.connectionId);
  if (r.sni !== undefined) out.ascii(0x12, r.sni);
  out.buf[out.pos++] = 0x18;
  out.varint(r.requestIndex);
  out.ascii(0x22, r.remoteAddress);
  if (r.certCovers !== undefined) {
    out.buf[out.pos++] = 0x28;
    out.buf[out.pos++] = r.certCovers ? 1 : 0;
  }
  if (r.certSha256 !== undefined) out.bytes(0x32, r.certSha256);
  if (r.retryOf !== "") out.ascii(0x42, r.retryOf);
  if (r.serverSoftware !== "") out.ascii(0x4a, r.serverSoftware);
}

/** The bytes of one RecordFetchesRequest, in a buffer of its own. */
export function encodeBatch(requestId: string, records: readonly BenchRecord[]): Buffer {
  const conns = records.map(connectionSize);
  const sizes = records.map((r, i) => recordSize(r, conns[i] ?? 0));
  const total = field(requestId.length) + sizes.reduce((sum, n) => sum + field(n), 0);
  const out = new Sink(total);
  out.ascii(0x0a, requestId);
  records.forEach((r, i) => {
    out.buf[out.pos++] = 0x12;
    out.varint(sizes[i] ?? 0);
    writeRecord(out, r, conns[i] ?? 0);
  });
  if (out.pos !== total) throw new Error(`encoder size mismatch: ${out.pos} != ${total}`);
  return out.buf;
}
