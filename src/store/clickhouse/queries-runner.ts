import { DiagnosisCache } from "../../domain/diagnosis-cache.js";
import { DomainError } from "../../domain/errors.js";
import { QUERIES, type QueryInput, type QueryName, type QueryOutput, type QueryRunner } from "../../domain/queries.js";
import type { Thresholds } from "../../domain/thresholds.js";
import type { Logger } from "../../log.js";
import type { ClickHouseStore } from "./store.js";

/**
 * The queries on ClickHouse. Each call reads afresh (a new ReadStore and an empty diagnosis cache): writers on
 * other nodes change the data without telling this one, and every query node must give the same answer.
 */
export class ClickHouseQueries implements QueryRunner {
  constructor(
    private readonly store: () => ClickHouseStore | undefined,
    private readonly rules: Thresholds,
    private readonly log: Logger,
  ) {}

  async run<N extends QueryName>(name: N, input: QueryInput<N>, nowMs: number): Promise<QueryOutput<N>> {
    const store = this.store();
    if (store === undefined) throw new DomainError("unavailable", "the store is not reachable yet; retry later");
    const query = QUERIES[name] as (c: unknown, q: QueryInput<N>, nowMs: number) => Promise<QueryOutput<N>>;
    try {
      return await query({ store: store.reads(), rules: this.rules, cache: new DiagnosisCache() }, input, nowMs);
    } catch (e) {
      if (e instanceof DomainError) throw e;
      // The server's message stays in the log: it may quote the query.
      this.log.error("ClickHouse query failed", { query: name, error: e instanceof Error ? e.message : String(e) });
      throw new DomainError("unavailable", "the store did not answer; retry later", 1000, { cause: e });
    }
  }
}
