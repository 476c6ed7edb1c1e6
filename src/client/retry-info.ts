import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
export const RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo";

// Field numbers of google.rpc.Status, google.protobuf.Any, google.rpc.RetryInfo and google.protobuf.Duration.
const STATUS_DETAILS = 3;
const ANY_TYPE_URL = 1;
const ANY_VALUE = 2;
const RETRY_DELAY = 1;
const DURATION_SECONDS = 1;
const DURATION_NANOS = 2;

/**
 * The retry delay in ms of a google.rpc.RetryInfo among the details of a google.rpc.Status (the bytes of the
 * grpc-status-details-bin trailer), or undefined when there is none. Undecodable bytes count as none: a malformed
 * hint from a server must not turn a retryable failure into a crash.
 */
export function retryDelayMs(statusBytes: Uint8Array): number | undefined {
  try {
    for (const any of fields(statusBytes, STATUS_DETAILS)) {
      let typeUrl = "";
      let value: Uint8Array | undefined;
      const r = new BinaryReader(any);
      while (r.pos < r.len) {
        const [no, wt] = r.tag();
        if (no === ANY_TYPE_URL && wt === WireType.LengthDelimited) typeUrl = r.string();
        else if (no === ANY_VALUE && wt === WireType.LengthDelimited) value = r.bytes();
        else r.skip(wt, no);
      }
      if (typeUrl !== RETRY_INFO_TYPE || value === undefined) continue;
      const duration = fields(value, RETRY_DELAY)[0];
      return duration === undefined ? 0 : durationMs(duration);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function fields(bytes: Uint8Array, wanted: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === wanted && wt === WireType.LengthDelimited) out.push(r.bytes());
    else r.skip(wt, no);
  }
  return out;
}

function durationMs(bytes: Uint8Array): number {
  let seconds = 0;
  let nanos = 0;
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === DURATION_SECONDS && wt === WireType.Varint) seconds = Number(r.int64());
    else if (no === DURATION_NANOS && wt === WireType.Varint) nanos = r.int32();
    else r.skip(wt, no);
  }
  return Math.max(0, seconds * 1000 + Math.ceil(nanos / 1e6));
}
