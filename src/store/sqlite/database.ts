// Opens the SQLite file with the settings durability needs and applies pending migrations.
import Sqlite from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { migrations } from "./migrations/index.js";

export type Database = Sqlite.Database;

export function openDatabase(path: string): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Sqlite(path);
  db.pragma("journal_mode = WAL");
  // FULL: a commit is fsync'd before it is acknowledged, so it survives a crash of the process or the machine.
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

function migrate(db: Database): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const applied = new Set(
    db.prepare("SELECT version FROM schema_migrations").pluck().all() as number[],
  );
  const latestKnown = migrations.at(-1)?.version ?? 0;
  const newest = Math.max(0, ...applied);
  if (newest > latestKnown) {
    throw new Error(`the database has schema version ${newest}, newer than this server knows (${latestKnown}); upgrade the server`);
  }
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, Date.now());
    }).immediate();
  }
}
