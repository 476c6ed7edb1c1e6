import type { Db } from "./db.js";

// Bounded so that a stream of new names cannot grow memory without limit; a miss costs one indexed upsert.
const MAX_CACHED = 200_000;

/** A name -> id table (hosts, crawlers, addresses), cached in memory for the writer. */
export class Dictionary {
  private readonly cache = new Map<string, number>();
  private readonly upsert;
  private readonly lookup;

  constructor(db: Db, table: "hosts" | "crawlers" | "addresses", column: "name" | "addr") {
    // DO UPDATE (a no-op) rather than DO NOTHING so that RETURNING yields the id of an existing row too.
    this.upsert = db
      .prepare<[string], { id: number }>(
        `INSERT INTO ${table} (${column}) VALUES (?) ON CONFLICT (${column}) DO UPDATE SET ${column} = excluded.${column} RETURNING id`,
      )
      .pluck();
    this.lookup = db.prepare<[string], number>(`SELECT id FROM ${table} WHERE ${column} = ?`).pluck();
  }

  /** Id of a name, creating it; call inside the batch transaction and `forget()` if that transaction fails. */
  idOf(name: string): number {
    const hit = this.cache.get(name);
    if (hit !== undefined) return hit;
    const id = this.upsert.get(name) as unknown as number;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(name, id);
    return id;
  }

  /** Id of an existing name, without creating it. */
  find(name: string): number | undefined {
    return this.cache.get(name) ?? this.lookup.get(name);
  }

  /** Drops cached ids, some of which may belong to a rolled-back transaction. */
  forget(): void {
    this.cache.clear();
  }
}
