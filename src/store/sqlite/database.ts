// Opens the SQLite file with the settings durability needs and applies pending migrations.
import Sqlite from "better-sqlite3";
import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pendingMigrations } from "../migrations.js";
import { migrations } from "./migrations/index.js";

export type Database = Sqlite.Database;

/**
 * Opens, checks and migrates the database. Throws an error naming the file and what to do when it cannot be opened,
 * or is damaged: a server must not report SERVING on a database every call would fail on.
 */
export function openDatabase(path: string): Database {
  let db: Database | undefined;
  try {
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true });
      // SQLite takes an empty file for a new database and would start an empty store over it without a word; no
      // file this server wrote is empty (the first thing it does is write the header, below), so it was damaged.
      const file = statSync(path, { throwIfNoEntry: false });
      if (file?.isFile() && file.size === 0) throw new EmptyDatabase();
    }
    db = new Sqlite(path);
    db.pragma("journal_mode = WAL");
    // FULL: a commit is fsync'd before it is acknowledged, so it survives a crash of the process or the machine.
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    // A damaged page would otherwise surface later, as INTERNAL on every call that touches it.
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new DamagedDatabase(String(check));
    migrate(db);
    return db;
  } catch (e) {
    db?.close();
    throw new Error(`cannot open the database ${resolve(path)}: ${causeOf(e, path)}`, { cause: e });
  }
}

class DamagedDatabase extends Error {}
class EmptyDatabase extends Error {}

/** What went wrong opening `path`, and what to do about it. */
function causeOf(error: unknown, path: string): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, "; ");
  const code = error instanceof Sqlite.SqliteError ? error.code : (error as { code?: unknown }).code;
  const restore = "restore it from a backup (docs/operations.md#backups)";
  if (error instanceof DamagedDatabase) return `it is damaged (quick_check: ${message}); ${restore}`;
  if (error instanceof EmptyDatabase) {
    return `it is empty (0 bytes), so it holds no store this server wrote; ${restore}, or remove it (and any -wal and -shm beside it) to start a new, empty store`;
  }
  if (code === "SQLITE_CORRUPT") return `it is damaged (${message}); ${restore}`;
  if (code === "SQLITE_NOTADB") return "it is not a SQLite database";
  if (code === "SQLITE_FULL") return "its disk is full; free space on its volume";
  if (code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY" || code === "EACCES" || code === "ENOTDIR") {
    return `${message} (${String(code)}); ${accessProblem(path)}`;
  }
  return message;
}

/** Why SQLite may not create or write `path` and the -wal and -shm files it keeps beside it. */
function accessProblem(path: string): string {
  const folder = dirname(resolve(path));
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) return "it is a directory, not a file";
    accessSync(folder, constants.W_OK);
  } catch {
    return `the folder ${folder} is not writable by this user (SQLite creates the file and its -wal and -shm files there)`;
  }
  return `check that this user may read and write the file and the folder ${folder}`;
}

function migrate(db: Database): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const applied = new Set(
    db.prepare("SELECT version FROM schema_migrations").pluck().all() as number[],
  );
  for (const m of pendingMigrations(migrations, applied)) {
    db.transaction(() => {
      db.exec(m.sql);
      m.run?.(db);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, Date.now());
    }).immediate();
  }
}
