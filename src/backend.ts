import type { IngestSink } from "./domain/ingest.js";
import type { QueryRunner } from "./domain/queries.js";

/** What one node can tell about its store and, in cluster mode, its log: for `cli status` and the health checks. */
export interface BackendStatus {
  /** "sqlite" or "clickhouse". */
  store: string;
  /** The database file, or the ClickHouse URL without its credentials. */
  location: string;
  /** Roles this node plays: ingest, query, writer. */
  roles: string[];
  /** Bytes the store takes, where the node can tell. */
  storeBytes: number | undefined;
  /** Batches acknowledged but not yet in the store (the write queue, or the log's backlog). */
  backlogBatches: number;
  /** Records waiting in the write queue (SQLite), where known. */
  backlogRecords: number | undefined;
  /** Seconds since the writers last stored a batch while a backlog waited (0 when none waits). */
  writerLagSeconds: number;
  /** Whether each backing system answers: the store, and the log in cluster mode. */
  reachable: { store: boolean; log: boolean | undefined };
}

/**
 * One deployment's storage, as the transport sees it: where batches go, who answers queries, and what it can
 * tell about itself. An absent port means this node does not play that role.
 */
export interface Backend {
  ingest: IngestSink | undefined;
  queries: QueryRunner | undefined;
  status(): Promise<BackendStatus>;
  /** Stops accepting work, lets what was accepted finish, and closes every connection. */
  close(): Promise<void>;
}
