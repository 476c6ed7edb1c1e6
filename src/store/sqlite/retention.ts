import { DAY_MS, HOUR_MS } from "../../domain/window.js";
import type { Db } from "./db.js";

/** request_ids are remembered at least this long (AIP-155 replay window). */
export const REQUEST_ID_KEEP_MS = 7 * DAY_MS;

/**
 * Deletes data older than the retention period (0 keeps it forever) and expired request ids. Whole UTC days go,
 * so that fetch_daily never holds a day of which fetch_hourly lost some hours: data is kept up to a day longer.
 */
export function purge(
  db: Db,
  nowMs: number,
  retentionDays: number,
): { hourly: number; detail: number; requests: number } {
  return db.transaction(() => {
    let hourly = 0;
    let detail = 0;
    if (retentionDays > 0) {
      const day = Math.floor((nowMs - retentionDays * DAY_MS) / DAY_MS);
      hourly = db.prepare("DELETE FROM fetch_hourly WHERE hour < ?").run((day * DAY_MS) / HOUR_MS).changes;
      db.prepare("DELETE FROM fetch_daily WHERE day < ?").run(day);
      detail = db.prepare("DELETE FROM fetch_detail WHERE time_ms < ?").run(day * DAY_MS).changes;
    }
    const requests = db.prepare("DELETE FROM requests WHERE created_ms < ?").run(nowMs - REQUEST_ID_KEEP_MS).changes;
    return { hourly, detail, requests };
  })();
}
