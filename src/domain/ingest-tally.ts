import type { Rejection } from "./fetch.js";

/** Records of one crawler in a group of committed batches: accepted, and rejected by the field at fault. */
export interface CrawlerTally {
  crawler: string;
  accepted: number;
  rejected: Record<string, number>;
}

/** Stands for crawler ids that are not valid ids: no valid id has parentheses. */
export const INVALID_CRAWLER = "(invalid)";
// The crawler id rule of validate.ts: anything else is counted under INVALID_CRAWLER, never used as a label.
const CRAWLER = /^[A-Za-z0-9._:/-]{1,64}$/;

/** Adds up committed batches per crawler, for the metrics (the write worker sends the result with its answers). */
export class IngestTally {
  private readonly byCrawler = new Map<string, CrawlerTally>();
  // By the id as sent, so the id rule is checked once per distinct id rather than once per record.
  private readonly byRaw = new Map<string, CrawlerTally>();

  /** One committed (not replayed) batch: its records' crawler ids, and every rejection of it. */
  add(records: readonly { crawler: string }[], rejections: readonly Rejection[]): void {
    const rejected = new Map<number, string>();
    for (const r of rejections) rejected.set(r.index, r.field);
    records.forEach((record, index) => {
      const t = this.byRaw.get(record.crawler) ?? this.tallyOf(record.crawler);
      const field = rejected.get(index);
      if (field === undefined) t.accepted++;
      else t.rejected[field] = (t.rejected[field] ?? 0) + 1;
    });
  }

  get crawlers(): CrawlerTally[] {
    return [...this.byCrawler.values()];
  }

  private tallyOf(raw: string): CrawlerTally {
    const crawler = CRAWLER.test(raw) ? raw : INVALID_CRAWLER;
    let t = this.byCrawler.get(crawler);
    if (t === undefined) {
      t = { crawler, accepted: 0, rejected: {} };
      this.byCrawler.set(crawler, t);
    }
    // Invalid ids can be long and many; only valid ones are remembered by their raw form.
    if (crawler !== INVALID_CRAWLER) this.byRaw.set(raw, t);
    return t;
  }
}
