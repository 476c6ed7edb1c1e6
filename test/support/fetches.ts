import * as assert from "uvu/assert";
import type { Fetch } from "../../src/domain/fetch.js";
import { validateBatch } from "../../src/domain/validate.js";
import { FetchRecord } from "../../src/gen/webmasterid/crawldiag/v1/fetch.js";

// Far enough ahead that no test record counts as from the future.
const FAR_FUTURE = Date.parse("2100-01-01T00:00:00Z");

/** Records (in their JSON form) as ingest validates them, for tests that write to a store directly. */
export function fetchesOf(records: unknown[]): Fetch[] {
  const { fetches, rejections } = validateBatch(
    records.map((r) => FetchRecord.fromJSON(r)),
    { nowMs: FAR_FUTURE, oldestMs: 0 },
  );
  assert.equal(rejections, [], "every record is valid");
  return fetches;
}
