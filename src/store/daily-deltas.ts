import { MISDIRECTED, REFUSAL_STATUSES } from "../domain/fetch.js";
import type { Db } from "./db.js";

/** One fetch_daily row's key and what to add to it. */
interface DailyDelta {
  day: number;
  hostId: number;
  addressId: number;
  own: number;
  fetches: number;
  misdirected: number;
  refused: number;
  lastAnswered: number | null;
}

const ID_SPAN = 2 ** 32;
const CHUNK = 32;
const COLUMNS = "(day, host_id, address_id, own, fetches, misdirected, refused, last_answered)";
const UPSERT_TAIL = `ON CONFLICT DO UPDATE SET fetches = fetches + excluded.fetches,
  misdirected = misdirected + excluded.misdirected, refused = refused + excluded.refused,
  last_answered = MAX(COALESCE(last_answered, excluded.last_answered), COALESCE(excluded.last_answered, last_answered))`;
const WIDTH = 8;

/**
 * The fetch_daily increments of one transaction, one per row key: a host's traffic per day and server address,
 * own connections apart. Keyed by numbers, as HourlyDeltas, since this runs once per fetch.
 */
export class DailyDeltas {
  private readonly rows = new Map<number, Map<number, DailyDelta>>();

  add(hour: number, hostId: number, addressId: number, own: boolean, status: number): void {
    const day = Math.floor(hour / 24);
    const outer = day * ID_SPAN + hostId;
    let inner = this.rows.get(outer);
    if (inner === undefined) {
      inner = new Map();
      this.rows.set(outer, inner);
    }
    const key = addressId * 2 + (own ? 1 : 0);
    let d = inner.get(key);
    if (d === undefined) {
      d = { day, hostId, addressId, own: own ? 1 : 0, fetches: 0, misdirected: 0, refused: 0, lastAnswered: null };
      inner.set(key, d);
    }
    d.fetches++;
    if (status === MISDIRECTED) d.misdirected++;
    else d.lastAnswered = Math.max(d.lastAnswered ?? hour, hour);
    if (REFUSAL_STATUSES.has(status)) d.refused++;
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
  args[at + 3] = d.own;
  args[at + 4] = d.fetches;
  args[at + 5] = d.misdirected;
  args[at + 6] = d.refused;
  args[at + 7] = d.lastAnswered;
}
