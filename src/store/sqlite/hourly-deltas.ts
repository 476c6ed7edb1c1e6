import type { Db } from "./db.js";

/** One fetch_hourly row's key and the count to add to it. */
interface HourlyDelta {
  hour: number;
  hostId: number;
  status: number;
  protocol: number;
  kind: number;
  addressId: number;
  count: number;
}

const ID_SPAN = 2 ** 32;
// Rows per upsert statement: one call per row costs more in binding and crossing into SQLite than the B-tree work.
const CHUNK = 32;
const COLUMNS = "(host_id, hour, status, protocol, conn_kind, address_id, count)";
const UPSERT_TAIL = "ON CONFLICT DO UPDATE SET count = count + excluded.count";

/**
 * The fetch_hourly increments of one transaction, one per row key. Keyed by numbers (hour and host, then status,
 * protocol, kind and address), not by strings: this runs once per fetch. Both keys stay exact below 2^53 while
 * dictionary ids stay below 2^32 and hours below 2^21 (the year 2209).
 */
export class HourlyDeltas {
  private readonly rows = new Map<number, Map<number, HourlyDelta>>();

  add(hour: number, hostId: number, status: number, protocol: number, kind: number, addressId: number): void {
    const outer = hour * ID_SPAN + hostId;
    let inner = this.rows.get(outer);
    if (inner === undefined) {
      inner = new Map();
      this.rows.set(outer, inner);
    }
    const key = ((status * 4 + protocol) * 8 + kind) * ID_SPAN + addressId;
    const d = inner.get(key);
    if (d === undefined) inner.set(key, { hour, hostId, status, protocol, kind, addressId, count: 1 });
    else d.count++;
  }

  /** Every increment so far, in no particular order. */
  *deltas(): Generator<Readonly<HourlyDelta>> {
    for (const inner of this.rows.values()) yield* inner.values();
  }

  /** Adds every increment to fetch_hourly, in key order so that consecutive upserts share pages. */
  flush(upsert: HourlyUpsert): void {
    const all: HourlyDelta[] = [];
    for (const outer of [...this.rows.keys()].sort((a, b) => a - b)) {
      for (const d of this.rows.get(outer)?.values() ?? []) all.push(d);
    }
    upsert.run(all);
    this.rows.clear();
  }
}

/** Prepared upserts into fetch_hourly: CHUNK rows a statement, then one at a time. */
export class HourlyUpsert {
  private readonly many;
  private readonly one;
  private readonly args: number[] = new Array(CHUNK * 7);

  constructor(db: Db) {
    const row = "(?, ?, ?, ?, ?, ?, ?)";
    this.many = db.prepare(
      `INSERT INTO fetch_hourly ${COLUMNS} VALUES ${Array(CHUNK).fill(row).join(", ")} ${UPSERT_TAIL}`,
    );
    this.one = db.prepare(`INSERT INTO fetch_hourly ${COLUMNS} VALUES ${row} ${UPSERT_TAIL}`);
  }

  run(deltas: readonly HourlyDelta[]): void {
    let i = 0;
    for (; i + CHUNK <= deltas.length; i += CHUNK) {
      for (let j = 0; j < CHUNK; j++) {
        const d = deltas[i + j] as HourlyDelta;
        const a = j * 7;
        this.args[a] = d.hostId;
        this.args[a + 1] = d.hour;
        this.args[a + 2] = d.status;
        this.args[a + 3] = d.protocol;
        this.args[a + 4] = d.kind;
        this.args[a + 5] = d.addressId;
        this.args[a + 6] = d.count;
      }
      this.many.run(this.args);
    }
    for (; i < deltas.length; i++) {
      const d = deltas[i] as HourlyDelta;
      this.one.run(d.hostId, d.hour, d.status, d.protocol, d.kind, d.addressId, d.count);
    }
  }
}
