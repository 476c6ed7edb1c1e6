import { DiagnosisCache } from "../../domain/diagnosis-cache.js";
import { DomainError } from "../../domain/errors.js";
import { QUERIES, type QueryInput, type QueryName, type QueryOutput, type QueryRunner } from "../../domain/queries.js";
import type { Thresholds } from "../../domain/thresholds.js";
import type { Logger } from "../../log.js";
import { VersionedCache } from "./changes.js";
import type { ClickHouseStore } from "./store.js";

/** The calls that read the rows of one host only. */
const ONE_HOST: ReadonlySet<QueryName> = new Set(["hostDiagnosis", "hostStats"]);

/**
 * The queries on ClickHouse. Writers on other nodes change the data without telling this one, and every query
 * node must give the same answer: a list page keeps diagnoses until the store's change log says a write touched
 * their host (changes.ts); the other calls read afresh, since one more round trip for the log would cost them as
 * much as what it saves.
 */
export class ClickHouseQueries implements QueryRunner {
  private readonly lists = new VersionedCache();

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
      if (name !== "listDiagnoses") {
        const reads = store.reads(undefined, ONE_HOST.has(name));
        return await query({ store: reads, rules: this.rules, cache: new DiagnosisCache() }, input, nowMs);
      }
      const { cache, ids } = await this.lists.at(store);
      return await query({ store: store.reads(ids), rules: this.rules, cache }, input, nowMs);
    } catch (e) {
      if (e instanceof DomainError) throw e;
      // The server's message stays in the log: it may quote the query.
      this.log.error("ClickHouse query failed", { query: name, error: e instanceof Error ? e.message : String(e) });
      throw new DomainError("unavailable", "the store did not answer; retry later", 1000, { cause: e });
    }
  }
}
