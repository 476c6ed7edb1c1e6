import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./schema.js";

export type Db = Database.Database;

export interface OpenOptions {
  sync: "FULL" | "NORMAL";
  readonly?: boolean;
  /** Page cache of this connection, in MiB (default 64). */
  cacheMb?: number;
}

/** Opens the database in WAL mode and brings its schema up to date (PRAGMA user_version counts migrations). */
export function openDb(path: string, opts: OpenOptions): Db {
  if (path !== ":memory:" && !opts.readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: opts.readonly ?? false });
  db.pragma("busy_timeout = 5000");
  if (opts.readonly) return db;
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${opts.sync}`);
  // Checkpoints run in the writer; a larger auto-checkpoint keeps them off most commits.
  db.pragma("wal_autocheckpoint = 4000");
  db.pragma(`cache_size = ${-1024 * (opts.cacheMb ?? 64)}`);
  db.pragma("temp_store = MEMORY");
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this program (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] ?? "");
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
