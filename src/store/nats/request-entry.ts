import type { KV } from "nats";
import { DomainError } from "../../domain/errors.js";
import type { IngestResult } from "../../domain/ingest.js";

/**
 * A request_id's entry in the requests bucket: its batch's digest, the result it was answered, and the stream
 * sequence of the one copy of the batch that counts. Whoever writes it first (the ingest node after the stream's
 * ack, or a writer before it stores the batch) fixes that copy; every later copy of the request_id is a replay.
 */
export interface RequestEntry {
  digest: Uint8Array;
  result: IngestResult;
  seq: number;
}

interface Wire {
  digest: string;
  result: IngestResult;
  seq: number;
}

const WRONG_LAST_SEQUENCE = 10071;

export async function findEntry(kv: KV, requestId: string): Promise<RequestEntry | undefined> {
  const e = await kv.get(requestId);
  if (e === null || e.operation !== "PUT" || e.value.length === 0) return undefined;
  const w = e.json<Wire>();
  return { digest: Buffer.from(w.digest, "base64"), result: w.result, seq: w.seq };
}

/** Creates the entry unless there is one: resolves to the entry that holds (ours, or the one found). */
export async function createEntry(kv: KV, requestId: string, entry: RequestEntry): Promise<RequestEntry> {
  // Only the listed rejections are kept, as SQLite keeps them: a replay answers what the first call answered.
  const w: Wire = {
    digest: Buffer.from(entry.digest).toString("base64"),
    result: { ...entry.result, replayed: false },
    seq: entry.seq,
  };
  try {
    await kv.create(requestId, JSON.stringify(w));
    return entry;
  } catch (e) {
    if (!isWrongLastSequence(e)) throw e;
  }
  const found = await findEntry(kv, requestId);
  if (found === undefined)
    throw new DomainError("unavailable", "request entry vanished; retry with the same request_id");
  return found;
}

/** The answer to a request_id seen before: its first result if the batch is the same, else ALREADY_EXISTS. */
export function replayOf(prior: RequestEntry, digest: Uint8Array): IngestResult {
  if (!Buffer.from(prior.digest).equals(Buffer.from(digest))) {
    throw new DomainError("already_exists", "request_id: already used for a different batch");
  }
  return { ...prior.result, replayed: true };
}

export function isWrongLastSequence(e: unknown): boolean {
  return (e as { api_error?: { err_code?: number } } | undefined)?.api_error?.err_code === WRONG_LAST_SEQUENCE;
}
