import { type CopyTarget, copySeq, type DayFigures, MAX_REVISIONS } from "../store/clickhouse/copy.js";
import type { DailyRow, HourlyRow, Rows } from "../store/clickhouse/rows.js";
import { ClickHouseStore } from "../store/clickhouse/store.js";
import { copyClaims, copyRequests } from "../store/nats/copy-buckets.js";
import { REQUEST_KEEP_MS } from "../store/nats/setup.js";
import { check, dateOf, n } from "./copy-check.js";
import { CopySource } from "./copy-source.js";

export interface CopyFlags {
  /** http[s]://[user[:password]@]host:port/database */
  to: string;
  db: string;
  cluster?: string | undefined;
  replicated?: boolean | undefined;
  /**
   * NATS seeds (comma-separated): the request_ids of the last 7 days go into the cluster's requests bucket, the
   * (crawler, fetch_id) of every detail row into its claims bucket.
   */
  nats?: string | undefined;
  /** Most rows in one insert (hidden; a test makes it small so that a run can be killed in the middle of a day). */
  pieceRows: number;
}

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/**
 * `copy-store --to <url>`: the SQLite store's aggregates and detail rows into ClickHouse, a UTC day at a time.
 * Each day's rows go under a seq of their own that the ledger records first (copy.ts), so a day copied again is
 * never counted twice; a day an earlier run started gets only the rows still missing, under a new seq. At the
 * end, both stores' figures are compared day by day. Returns the exit code: 0 copied and checked, 1 otherwise.
 */
export async function copyStore(flags: CopyFlags, io: Io): Promise<number> {
  const secret = passwordOf(flags.to);
  try {
    return await copy(flags, io);
  } catch (e) {
    // ClickHouse's own messages do not quote the password, but a message is cheap to scrub and a leak is not.
    io.err.write(`copy-store: ${scrub(e instanceof Error ? e.message : String(e), secret)}\n`);
    return 1;
  }
}

async function copy(flags: CopyFlags, io: Io): Promise<number> {
  const target = redacted(flags.to);
  const source = CopySource.open(flags.db);
  let store: ClickHouseStore | undefined;
  try {
    const days = source.days();
    store = await ClickHouseStore.open(flags.to, { cluster: flags.cluster || undefined, replicated: flags.replicated });
    const ch = store.copyTarget();
    await ch.prepare();
    const [finished, attempts] = await Promise.all([ch.finished(), ch.attempts()]);
    const todo = [...days].filter(([day, f]) => {
      const done = finished.get(day);
      return done?.fetches !== f.fetches || done.detail !== f.detail;
    });
    io.err.write(
      `copy-store: ${flags.db} has ${days.size} days of data; ${days.size - todo.length} already copied to ${target}, ` +
        `${todo.length} to copy\n`,
    );
    const started = Date.now();
    const copied = { days: 0, fetches: 0, detail: 0 };
    for (const [day, figures] of todo) {
      // Fewer than the day's fetches when an earlier attempt had stored some (its rows are not written again).
      const added = await copyDay(source, store, ch, day, figures, attempts.get(day) ?? [], flags.pieceRows);
      copied.days++;
      copied.fetches += added;
      copied.detail += figures.detail;
      const rate = Math.round(copied.fetches / Math.max((Date.now() - started) / 1000, 0.001));
      io.err.write(
        `copy-store: ${dateOf(day)} copied, ${n(added)} fetches, ${n(figures.detail)} detail rows ` +
          `(${copied.days}/${todo.length} days, ${n(rate)} fetches/s)\n`,
      );
    }
    const seconds = (Date.now() - started) / 1000;
    if (copied.days > 0) {
      io.out.write(
        `copied ${copied.days} days (${n(copied.fetches)} fetches, ${n(copied.detail)} detail rows) in ` +
          `${seconds.toFixed(1)} s (${n(Math.round(copied.fetches / Math.max(seconds, 0.001)))} fetches/s)\n`,
      );
    }
    // After the data: a request_id the cluster answers as a replay must have its batch's rows there already.
    if (flags.nats) {
      const since = Date.now() - REQUEST_KEEP_MS;
      const servers = flags.nats.split(",");
      const r = await copyRequests(servers, source.requests(since));
      io.err.write(
        `copy-store: request_ids of the last 7 days: ${n(r.copied)} copied, ${n(r.present)} already there\n`,
      );
      const c = await copyClaims(servers, source.claims());
      io.err.write(`copy-store: claims of detail fetches: ${n(c.copied)} copied, ${n(c.present)} already there\n`);
    } else {
      io.err.write(
        "copy-store: request_ids and claims not copied (no --nats): a batch SQLite stored and a client resends " +
          "to the cluster within 7 days, or a 421, refusal or retry SQLite stored and sent again in a new batch, " +
          "would be counted again\n",
      );
    }
    return check(days, await ch.figures(), io);
  } finally {
    source.close();
    await store?.close();
  }
}

/**
 * One day: the ledger gets its seq before any row, then the rows go in pieces, then the day is marked done.
 * Returns the fetches it added.
 */
async function copyDay(
  source: CopySource,
  store: ClickHouseStore,
  ch: CopyTarget,
  day: number,
  figures: DayFigures,
  earlier: readonly number[],
  pieceRows: number,
): Promise<number> {
  const revision = earlier.length === 0 ? 0 : (Math.max(...earlier) % MAX_REVISIONS) + 1;
  const seq = copySeq(day, revision);
  // What earlier attempts stored of this day is left out: only the rest goes under the new seq.
  const stored = earlier.length === 0 ? undefined : await ch.stored(day, earlier);
  const hourly = minusHourly(source.hourly(day), stored?.hourly, seq);
  const daily = minusDaily(source.daily(day), stored?.daily, seq);
  let rows: Rows = { fetch_hourly: [], fetch_daily: [], fetch_detail: [], fetch_retry: [] };
  let count = 0;
  let recorded = false;
  // One insert in flight while the next piece is read: ClickHouse parses one while this process builds the next
  // (on 2 cores, 67k -> 74k fetches/s copying a 1M-fetch benchmark store).
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    await inFlight;
    if (count === 0) return;
    if (!recorded && (rows.fetch_hourly.length > 0 || rows.fetch_daily.length > 0)) {
      await store.recordSeqs([seq]);
      recorded = true;
    }
    inFlight = store.insertAll(rows);
    // Awaited at the next flush; until then a failure must not count as an unhandled rejection.
    inFlight.catch(() => {});
    rows = { fetch_hourly: [], fetch_daily: [], fetch_detail: [], fetch_retry: [] };
    count = 0;
  };
  const add = async <K extends keyof Rows>(table: K, row: Rows[K][number]) => {
    (rows[table] as Rows[K][number][]).push(row);
    if (++count >= pieceRows) await flush();
  };
  let added = 0;
  for (const r of hourly) {
    added += r.count;
    await add("fetch_hourly", r);
  }
  for (const r of daily) await add("fetch_daily", r);
  // Detail rows carry no seq: ClickHouse reads each (host, time, crawler, fetch_id) once, so they all go again.
  for (const r of source.detail(day)) {
    await add("fetch_detail", r);
    if (r.retry_of !== "") {
      await add("fetch_retry", {
        crawler: r.crawler,
        retry_of: r.retry_of,
        fetch_id: r.fetch_id,
        time_ms: r.time_ms,
        status: r.status,
      });
    }
  }
  await flush();
  await inFlight;
  await ch.markFinished(day, revision, figures);
  return added;
}

function* minusHourly(rows: Iterable<HourlyRow>, stored: HourlyRow[] | undefined, seq: number) {
  const key = (r: HourlyRow) => `${r.host} ${r.hour} ${r.status} ${r.protocol} ${r.conn_kind} ${r.address}`;
  const there = new Map((stored ?? []).map((r) => [key(r), r.count]));
  for (const r of rows) {
    const count = r.count - (there.get(key(r)) ?? 0);
    if (count < 0) throw new Error(`ClickHouse has more fetches than SQLite for ${r.host} at hour ${r.hour}`);
    if (count > 0) yield { ...r, seq, count };
  }
}

function* minusDaily(rows: Iterable<DailyRow>, stored: DailyRow[] | undefined, seq: number) {
  const key = (r: DailyRow) => `${r.host} ${r.day} ${r.address}`;
  const there = new Map((stored ?? []).map((r) => [key(r), r]));
  const sums = ["fetches", "answered", "own_fetches", "own_misdirected", "own_refused"] as const;
  for (const r of rows) {
    const s = there.get(key(r));
    const out: DailyRow = { ...r, seq };
    for (const k of sums) out[k] = r[k] - (s?.[k] ?? 0);
    if (sums.some((k) => out[k] < 0))
      throw new Error(`ClickHouse has more fetches than SQLite for ${r.host} on day ${r.day}`);
    // own_last_answered is a maximum: the new row's carries it, whatever the earlier rows had.
    if (sums.some((k) => out[k] > 0)) yield out;
  }
}

function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return "";
  }
}

/** The URL for messages: everything but the password. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    return u.toString();
  } catch {
    return "the --to URL";
  }
}

function scrub(message: string, secret: string): string {
  if (secret === "") return message;
  return message.split(secret).join("***").split(encodeURIComponent(secret)).join("***");
}
