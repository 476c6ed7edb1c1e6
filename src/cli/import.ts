import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { Presets, SingleBar } from "cli-progress";
import { callMetadata, ingestClient } from "../client/channel.js";
import { BatchError, DEFAULT_RETRY, sendBatch } from "../client/send.js";
import { FetchRecord } from "../gen/webmasterid/crawldiag/v1/fetch.js";
import { type Checkpoint, readCheckpoint, writeCheckpoint } from "./checkpoint.js";
import { connectionCredentials } from "./connection.js";
import { headHash, IDENTITY_BYTES, type Line, readLines } from "./lines.js";
import type { ServerFlags } from "./rpc.js";

export interface ImportFlags extends ServerFlags {
  batchSize: number;
  /** Checkpoint file; default: the input file's path + ".checkpoint". */
  checkpoint?: string | undefined;
  /** Crawler id for records that do not name one. */
  crawler?: string | undefined;
}

interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

interface Range {
  start: number;
  end: number;
  endOffset: number;
  records: FetchRecord[];
  /** Line number of each record. */
  lines: number[];
}

/**
 * `import <file.ndjson>`: FetchRecords in the proto3 JSON mapping, one per line, sent in batches of `batchSize`
 * lines. Each batch's request_id is derived from the file's identity and the batch's line range, so running the
 * import again replays what the server already has instead of storing it twice; a checkpoint after each
 * acknowledged batch lets an interrupted import resume. Returns the exit code: 1 when some lines were refused.
 */
export async function importFile(
  file: string,
  flags: ImportFlags,
  io: Io = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const size = statSync(file).size;
  const checkpointPath = flags.checkpoint ?? `${file}.checkpoint`;
  const start = await resumePoint(file, size, checkpointPath, flags.batchSize, io);
  const client = ingestClient({ address: flags.address, credentials: connectionCredentials(flags) });
  const metadata = callMetadata(flags.token);
  const totals = { stored: 0, replayed: 0, bad: 0, lines: 0 };
  const bar = io.err.isTTY
    ? new SingleBar(
        { format: "importing |{bar}| {percentage}% | line {line} | {stored} stored | {bad} bad", stream: io.err },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(Math.max(size, 1), start.offset, { line: start.nextLine, stored: 0, bad: 0 });
  const bad = (line: number | string, why: string) => {
    totals.bad++;
    // On a terminal the message replaces the bar's line and the bar is drawn again below it.
    io.err.write(`${bar === undefined ? "" : "\r\x1b[K"}line ${line}: ${why}\n`);
    bar?.render();
  };

  const send = async (r: Range) => {
    if (r.records.length > 0) {
      const requestId = `imp-${createHash("sha256").update(`${start.identity}:${r.start}-${r.end}`).digest("base64url")}`;
      let res: Awaited<ReturnType<typeof sendBatch>>;
      try {
        res = await sendBatch(
          client,
          { requestId, records: r.records },
          { retry: DEFAULT_RETRY, deadlineMs: 60_000, metadata },
        );
      } catch (e) {
        const hint =
          e instanceof BatchError && e.code === status.ALREADY_EXISTS
            ? "these lines were imported before with different content; the file changed since"
            : "run the same command again to resume here";
        throw new Error(`import stopped at line ${r.start}: ${(e as Error).message}; ${hint}`, { cause: e });
      }
      if (res.replayed) totals.replayed += res.acceptedCount;
      else totals.stored += res.acceptedCount;
      for (const j of res.rejections) bad(r.lines[j.index] ?? "?", `${j.field}: ${j.reason}`);
      const unlisted = res.rejectedCount - res.rejections.length;
      if (unlisted > 0) bad(`${r.start}-${r.end}`, `${unlisted} more records refused (the server lists the first 100)`);
    }
    writeCheckpoint(checkpointPath, { ...start, nextLine: r.end + 1, offset: r.endOffset });
    bar?.update(r.endOffset, { line: r.end, stored: totals.stored + totals.replayed, bad: totals.bad });
  };

  let range: Range | undefined;
  try {
    for await (const line of readLines(file, start.offset, start.nextLine)) {
      totals.lines++;
      range ??= { start: line.number, end: line.number, endOffset: line.end, records: [], lines: [] };
      range.end = line.number;
      range.endOffset = line.end;
      const parsed = parseLine(line, flags.crawler);
      if (typeof parsed === "string") bad(line.number, parsed);
      else if (parsed !== undefined) {
        range.records.push(parsed);
        range.lines.push(line.number);
      }
      if (range.end - range.start + 1 >= start.batchSize) {
        await send(range);
        range = undefined;
      }
    }
    if (range !== undefined) await send(range);
  } finally {
    bar?.stop();
    client.close();
  }
  const first = start.nextLine;
  const done =
    totals.lines === 0
      ? `nothing to import: ${file} was imported up to line ${first - 1}`
      : `imported lines ${first}-${first + totals.lines - 1} of ${file}: ${totals.stored} records stored, ` +
        `${totals.replayed} already stored, ${totals.bad} bad lines`;
  io.out.write(`${done}\n`);
  return totals.bad > 0 ? 1 : 0;
}

/** The checkpoint to resume from, or a fresh start when there is none or it belongs to other file content. */
async function resumePoint(file: string, size: number, path: string, batchSize: number, io: Io): Promise<Checkpoint> {
  const saved = readCheckpoint(path);
  if (saved !== undefined && (await headHash(file, saved.identityBytes)) === saved.identity) {
    if (saved.batchSize !== batchSize) {
      io.err.write(`using the batch size of the checkpoint (${saved.batchSize}), so line ranges stay the same\n`);
    }
    if (saved.nextLine > 1 && saved.offset < size) io.err.write(`resuming at line ${saved.nextLine}\n`);
    return saved;
  }
  if (saved !== undefined) io.err.write(`${path} belongs to other file content; starting at line 1\n`);
  const identityBytes = Math.min(size, IDENTITY_BYTES);
  const identity = (await headHash(file, identityBytes)) ?? "";
  return { version: 1, identity, identityBytes, batchSize, nextLine: 1, offset: 0 };
}

/** A record, undefined for a blank line, or why the line is bad. */
function parseLine(line: Line, crawler: string | undefined): FetchRecord | string | undefined {
  if (line.text.trim() === "") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(line.text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return "not a JSON object";
  try {
    const record = FetchRecord.fromJSON(json);
    if (record.fetchedAt !== undefined && Number.isNaN(record.fetchedAt.getTime())) {
      return "fetchedAt: not an RFC 3339 timestamp";
    }
    if (record.crawler === "" && crawler !== undefined) record.crawler = crawler;
    // Encoding checks what fromJSON lets through (a status_code of "abc" becomes NaN), one line at a time.
    FetchRecord.encode(record).finish();
    return record;
  } catch (e) {
    return `not a FetchRecord (${(e as Error).message})`;
  }
}
