import type { FetchRecord } from "../gen/webmasterid/crawldiag/v1/fetch.js";
import type { ConnectOptions } from "./channel.js";
import type { BatchError, RetryPolicy } from "./send.js";

/** A record as handed to report(): the crawler defaults to the reporter's, the optional fields to "not reported". */
export type ReportedFetch = Pick<FetchRecord, "fetchId" | "url" | "statusCode" | "fetchedAt"> & Partial<FetchRecord>;

export interface RejectedRecord {
  record: FetchRecord;
  /** Proto path of the offending field, such as "status_code". */
  field: string;
  reason: string;
}

export interface ReporterOptions extends ConnectOptions {
  /** Crawler (fleet) id put on records that do not name one. */
  crawler: string;
  /** Records per RecordFetches call (the server's maximum is 5000 by default). */
  batchSize?: number;
  /** A partial batch is sent when its oldest record has waited this long. */
  flushIntervalMs?: number;
  /** Records held at most (waiting and in flight); report() waits for room beyond that. */
  maxBuffered?: number;
  /** Deadline of one attempt. */
  deadlineMs?: number;
  retry?: Partial<RetryPolicy>;
  /**
   * Records the server refused, one call per batch. The server lists the first 100 refusals of a batch;
   * `rejectedCount` counts them all.
   */
  onRejected?: (rejected: RejectedRecord[], batch: { requestId: string; rejectedCount: number }) => void;
  /**
   * A batch given up (a refused request, or retries exhausted), with its records so they can be kept elsewhere.
   * Without this callback the error makes the next flush() or close() reject instead.
   */
  onBatchFailed?: (error: BatchError, records: FetchRecord[]) => void;
}

export interface ReporterStats {
  reported: number;
  accepted: number;
  rejected: number;
  /** Records of batches given up. */
  failed: number;
  /** Batches the server had already stored (an answer lost in transit, then retried). */
  replayedBatches: number;
  retries: number;
  /** Records waiting or in flight now. */
  buffered: number;
}

export interface Reporter {
  /** Queues a record; the promise resolves at once, or when there is room again once maxBuffered are held. */
  report(record: ReportedFetch): Promise<void>;
  /** Resolves when every record reported so far has been answered (or given up). */
  flush(): Promise<void>;
  /** Flushes, then closes the channel; report() fails afterwards. */
  close(): Promise<void>;
  stats(): ReporterStats;
}
