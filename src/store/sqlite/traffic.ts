import type { Window } from "../../domain/diagnosis.js";
import { MISDIRECTED, REFUSAL_STATUSES } from "../../domain/fetch.js";
import { ConnKind } from "../../domain/fetch-kind.js";
import { type Spans, windowSpans } from "../../domain/window.js";
import type { Db } from "./db.js";

/** A host's traffic at one server address over some span, with its own connections' figures beside the total. */
export interface AddressRow {
  address_id: number;
  fetches: number;
  /** Status other than 421, any connection. */
  answered: number;
  own_fetches: number;
  own_misdirected: number;
  own_refused: number;
  /** Latest hour of an own-connection answer other than 421. */
  own_last_answered: number | null;
}

type Range = { host: number; from: number; to: number };

// Both tables are keyed by time first (writes land together): a host's rows are found by one seek per hour or day
// of the window, so the cost follows the window's length, not how much traffic other hosts stored in it.
const seekEach = (table: string, column: string) =>
  `WITH RECURSIVE t(x) AS (SELECT @from WHERE @from < @to UNION ALL SELECT x + 1 FROM t WHERE x + 1 < @to)
   SELECT f.* FROM t CROSS JOIN ${table} f ON f.${column} = t.x AND f.host_id = @host`;
const REFUSALS = [...REFUSAL_STATUSES].join(", ");

/**
 * Per-address traffic of a host over a window: its whole UTC days from fetch_daily, the hours of its partial days
 * from fetch_hourly. A 30-day window costs about 30 day seeks and up to 46 hour seeks instead of 720 hour seeks.
 */
export class TrafficReader {
  private readonly hourly;
  private readonly daily;
  private readonly hourBounds;
  private readonly dayBounds;
  private readonly hostsInHours;
  private readonly hostsInDays;

  constructor(db: Db) {
    this.hourly = db.prepare<Range & { own: number; misdirected: number }, AddressRow>(
      `SELECT address_id, SUM(count) AS fetches,
         SUM(CASE WHEN status != @misdirected THEN count ELSE 0 END) AS answered,
         SUM(CASE WHEN conn_kind = @own THEN count ELSE 0 END) AS own_fetches,
         SUM(CASE WHEN conn_kind = @own AND status = @misdirected THEN count ELSE 0 END) AS own_misdirected,
         SUM(CASE WHEN conn_kind = @own AND status IN (${REFUSALS}) THEN count ELSE 0 END) AS own_refused,
         MAX(CASE WHEN conn_kind = @own AND status != @misdirected THEN hour END) AS own_last_answered
       FROM (${seekEach("fetch_hourly", "hour")}) GROUP BY address_id`,
    );
    this.daily = db.prepare<Range, AddressRow>(
      `SELECT address_id, SUM(fetches) AS fetches, SUM(answered) AS answered, SUM(own_fetches) AS own_fetches,
         SUM(own_misdirected) AS own_misdirected, SUM(own_refused) AS own_refused,
         MAX(own_last_answered) AS own_last_answered
       FROM (${seekEach("fetch_daily", "day")}) GROUP BY address_id`,
    );
    // One aggregate a statement: SQLite answers a lone MIN() or MAX() from the key's ends, both at once by a scan.
    this.hourBounds = bounds(db, "fetch_hourly", "hour");
    this.dayBounds = bounds(db, "fetch_daily", "day");
    this.hostsInHours = db
      .prepare<[number, number], number>("SELECT DISTINCT host_id FROM fetch_hourly WHERE hour >= ? AND hour < ?")
      .pluck();
    this.hostsInDays = db
      .prepare<[number, number], number>("SELECT DISTINCT host_id FROM fetch_daily WHERE day >= ? AND day < ?")
      .pluck();
  }

  /** The host's rows, one per address (an address may come up to three times: from days and from hours). */
  *rows(host: number, w: Window): Generator<AddressRow> {
    const spans = this.spans(w);
    if (spans.days !== undefined) {
      yield* this.daily.iterate({ host, from: spans.days[0], to: spans.days[1] });
    }
    for (const [from, to] of spans.hours) {
      yield* this.hourly.iterate({ host, from, to, own: ConnKind.OWN, misdirected: MISDIRECTED });
    }
  }

  /** Ids of every host fetched in the window. */
  hostsFetched(w: Window): Set<number> {
    const spans = this.spans(w);
    const out = new Set<number>();
    if (spans.days !== undefined) for (const id of this.hostsInDays.iterate(...spans.days)) out.add(id);
    for (const span of spans.hours) for (const id of this.hostsInHours.iterate(...span)) out.add(id);
    return out;
  }

  /** The window's spans (windowSpans), each cut to the span that holds data. */
  private spans(w: Window): Spans {
    const s = windowSpans(w);
    const hours = this.hourBounds.get();
    return {
      hours: s.hours.map((h) => cut(h, hours)),
      days: s.days === undefined ? undefined : cut(s.days, this.dayBounds.get()),
    };
  }
}

function bounds(db: Db, table: string, column: string): { get(): [number, number] } {
  const lo = db.prepare<[], number | null>(`SELECT MIN(${column}) FROM ${table}`).pluck();
  const hi = db.prepare<[], number | null>(`SELECT MAX(${column}) FROM ${table}`).pluck();
  return {
    get: () => {
      const [a, b] = [lo.get(), hi.get()];
      return a == null || b == null ? [0, 0] : [a, b + 1];
    },
  };
}
const cut = ([from, to]: [number, number], [lo, hi]: [number, number]): [number, number] => [
  Math.max(from, lo),
  Math.min(to, hi),
];
