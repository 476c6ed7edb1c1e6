import { MISDIRECTED, REFUSAL_STATUSES } from "../../domain/fetch.js";
import { ConnKind } from "../../domain/fetch-kind.js";
import { DAY_MS, HOUR_MS } from "../../domain/window.js";
import { int } from "./sql.js";

/**
 * Writers send each fetch once, as a fetch_raw row, and the server rolls them up into fetch_hourly and fetch_daily
 * (materialized views on a Null table, which keeps nothing itself). Building both tables' rows in the writer and
 * sending them as JSON was about a fifth of a one-node cluster's main thread at full ingest (profiled): 1.5 rows
 * and 230 bytes a fetch, against one line of about 60 bytes now.
 *
 * A view sees one insert block at a time, so each (key, seq) must reach the server in one block, or two rows would
 * share a key and a merge would keep one of them: a seq's rows of one week are always in one insert (raw.ts), and
 * an insert holds about 100,000 lines at most (a group's bound, or one batch of CRAWLDIAG_MAX_BATCH), a tenth of
 * what the server keeps in one block by default (max_insert_block_size; newer servers, which parse large inputs
 * in parallel chunks, squash them into blocks of min_insert_block_size_rows, also about a million).
 */
export const RAW_COLUMNS =
  "seq UInt64, time_ms Int64, host String, status UInt16, protocol UInt8, conn_kind UInt8, address String";

// The same arithmetic as the JS that built these rows before (Math.floor of a division): exact for any time_ms.
const HOUR = `toInt32(floor(time_ms / ${int(HOUR_MS)}))`;
const DAY = `toInt32(floor(time_ms / ${int(DAY_MS)}))`;
const OWN = `conn_kind = ${int(ConnKind.OWN)}`;
const M = int(MISDIRECTED);
const REFUSED = [...REFUSAL_STATUSES].map(int).join(", ");

/** The hourly rows of a block of fetches: fetch_hourly's columns, one row per key and seq. */
export const hourlyRollup = (raw: string): string =>
  `SELECT ${HOUR} AS hour, host, status, protocol, conn_kind, address, seq, toUInt32(count()) AS count
    FROM ${raw} GROUP BY hour, host, status, protocol, conn_kind, address, seq`;

/** The daily rows of a block of fetches, by domain/daily-figures.ts's addFetches rule (each column's comment there). */
export const dailyRollup = (raw: string): string =>
  `SELECT ${DAY} AS day, host, address, seq, toUInt32(count()) AS fetches,
    toUInt32(countIf(status != ${M})) AS answered,
    toUInt32(countIf(${OWN})) AS own_fetches,
    toUInt32(countIf(${OWN} AND status = ${M})) AS own_misdirected,
    toUInt32(countIf(${OWN} AND status IN (${REFUSED}))) AS own_refused,
    if(countIf(${OWN} AND status != ${M}) = 0, NULL, toInt32(maxIf(${HOUR}, ${OWN} AND status != ${M})))
      AS own_last_answered
    FROM ${raw} GROUP BY day, host, address, seq`;

/** The change log's rows per day: how many, and the sum of their ids (wrapping at 2^64, as a read's sum does). */
export const changesRollup = (changes: string): string =>
  `SELECT toInt32(intDiv(changed_ms, ${int(DAY_MS)})) AS day, toUInt64(count()) AS changes, sum(write_id) AS checksum
    FROM ${changes} GROUP BY day`;
