import type { Fetch } from "./fetch.js";

/**
 * A batch as the cluster's log holds it, decoded again for storage: the fetches ingest accepted, exactly as it
 * counted them. `seq` is the log's sequence number of the batch: unique, and the same when the log delivers the
 * batch again (after a writer crashed before it acknowledged).
 */
export interface LoggedBatch {
  seq: number;
  fetches: readonly Fetch[];
}

/**
 * Where the log's batches are stored. Idempotent per seq: writing a batch again (any group, any order) must
 * leave every figure as if it had been written once. Resolves once the batches are durable in the store.
 * `prepare` turns a batch into what write() needs of it, which a cluster node makes on the thread that decoded
 * the batch, so that the writer's own thread only inserts.
 */
export interface BatchStore<P extends { seq: number } = LoggedBatch> {
  prepare(batch: LoggedBatch): P;
  write(batches: readonly P[]): Promise<void>;
}
