import { addFetches, type DailyFigures, noFigures } from "../../domain/daily-figures.js";
import type { Db } from "./db.js";

/** One fetch_daily row's key and what to add to it. */
interface DailyDelta extends DailyFigures {
  day: number;
  hostId: number;
  addressId: number;
}

const ID_SPAN = 2 ** 32;
const CHUNK = 32;
const COLUMNS =
  "(day, host_id, address_id, fetches, answered, own_fetches, own_misdirected, own_refused, own_last_answered)";
// SQLite's two-argument MAX is NULL when either is: each side falls back to the other.
const UPSERT_TAIL = `ON CONFLICT DO UPDATE SET fetches = fetches + excluded.fetches,
  answered = answered + excluded.answered, own_fetches = own_fetches + excluded.own_fetches,
  own_misdirected = own_misdirected + excluded.own_misdirected, own_refused = own_refused + excluded.own_refused,
  own_last_answered = MAX(COALESCE(own_last_answered, excluded.own_last_answered),
    COALESCE(excluded.own_last_answered, own_last_answered))`;
const WIDTH = 9;

/**
 * The fetch_daily increments of one transaction, one per row key: a host's traffic per day and server address.
 * Rolled up from the transaction's hourly deltas, which already count each key once: doing it per fetch cost
 * as much again as the hourly accounting.
 */
export class DailyDeltas {
  private readonly rows = new Map<number, Map<number, DailyDelta>>();

  /** Adds `count` fetches of one hour, status and kind of connection (an hourly delta: not called per fetch). */
  add(hour: number, hostId: number, addressId: number, own: boolean, status: number, count: number): void {
    const day = Math.floor(hour / 24);
    const outer = day * ID_SPAN + hostId;
    let inner = this.rows.get(outer);
    if (inner === undefined) {
      inner = new Map();
      this.rows.set(outer, inner);
    }
    let d = inner.get(addressId);
    if (d === undefined) {
      d = { day, hostId, addressId, ...noFigures() };
      inner.set(addressId, d);
    }
    addFetches(d, hour, own, status, count);
  }

  /** Adds every increment to fetch_daily, in key order so that consecutive upserts share pages. */
  flush(upsert: DailyUpsert): void {
    const all: DailyDelta[] = [];
    for (const outer of [...this.rows.keys()].sort((a, b) => a - b)) {
      const inner = this.rows.get(outer) ?? new Map<number, DailyDelta>();
      for (const key of [...inner.keys()].sort((a, b) => a - b)) all.push(inner.get(key) as DailyDelta);
    }
    upsert.run(all);
    this.rows.clear();
  }
}

/** Prepared upserts into fetch_daily: CHUNK rows a statement, then one at a time. */
export class DailyUpsert {
  private readonly many;
  private readonly one;
  private readonly args: (number | null)[] = new Array(CHUNK * WIDTH);

  constructor(db: Db) {
    const row = `(${Array(WIDTH).fill("?").join(", ")})`;
    this.many = db.prepare(
      `INSERT INTO fetch_daily ${COLUMNS} VALUES ${Array(CHUNK).fill(row).join(", ")} ${UPSERT_TAIL}`,
    );
    this.one = db.prepare(`INSERT INTO fetch_daily ${COLUMNS} VALUES ${row} ${UPSERT_TAIL}`);
  }

  run(deltas: readonly DailyDelta[]): void {
    let i = 0;
    for (; i + CHUNK <= deltas.length; i += CHUNK) {
      for (let j = 0; j < CHUNK; j++) fill(this.args, j * WIDTH, deltas[i + j] as DailyDelta);
      this.many.run(this.args);
    }
    const one: (number | null)[] = new Array(WIDTH);
    for (; i < deltas.length; i++) {
      fill(one, 0, deltas[i] as DailyDelta);
      this.one.run(one);
    }
  }
}

function fill(args: (number | null)[], at: number, d: DailyDelta): void {
  args[at] = d.day;
  args[at + 1] = d.hostId;
  args[at + 2] = d.addressId;
  args[at + 3] = d.fetches;
  args[at + 4] = d.answered;
  args[at + 5] = d.ownFetches;
  args[at + 6] = d.ownMisdirected;
  args[at + 7] = d.ownRefused;
  args[at + 8] = d.ownLastAnswered;
}
