import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

// Partial reads of a RecordFetchesRequest, for the transport thread: the records themselves are decoded by the
// write worker (ingest-codec.ts). They walk the message as the generated decoder does and agree with it on every
// well-formed message. On a malformed record (the generated decoder reads on past a zero tag inside a record as
// if it were top level) they may not: the worker's full decode has the last word, and checks again.

/**
 * request_id and the number of records, read without decoding the records: enough to refuse a batch and to
 * queue it. Walks the top level as the generated decoder does (the last request_id wins; a zero or end-group
 * tag ends the message).
 */
export function scanRequest(bytes: Uint8Array): { requestId: string; records: number } {
  const reader = new BinaryReader(bytes);
  let requestId = "";
  let records = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 10) requestId = reader.string();
    else if (tag === 18) {
      reader.skip(WireType.LengthDelimited);
      records++;
    } else if ((tag & 7) === 4 || tag === 0) break;
    else reader.skip(tag & 7, tag >>> 3);
  }
  return { requestId, records };
}

/** The distinct `crawler` values of a batch's records (for permission checks made before decoding). */
export function crawlersOf(bytes: Uint8Array): Set<string> {
  const crawlers = new Set<string>();
  const top = new BinaryReader(bytes);
  while (top.pos < top.len) {
    const tag = top.uint32();
    if (tag !== 18) {
      if ((tag & 7) === 4 || tag === 0) break;
      top.skip(tag & 7, tag >>> 3);
      continue;
    }
    const record = new BinaryReader(top.bytes());
    let crawler = "";
    while (record.pos < record.len) {
      const t = record.uint32();
      if (t === 18) crawler = record.string();
      else if ((t & 7) === 4 || t === 0) break;
      else record.skip(t & 7, t >>> 3);
    }
    crawlers.add(crawler);
  }
  return crawlers;
}
