// What --db names: a SQLite file path, or a PostgreSQL URL. Any other `scheme://` is refused before anything is created
// (it would otherwise become a folder named "scheme:" holding a SQLite file).

export type DbTarget = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

export function parseDb(db: string): DbTarget {
  const scheme = SCHEME.exec(db)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: "sqlite", path: db };
  if (scheme === "postgres" || scheme === "postgresql") return { kind: "postgres", url: db };
  throw new Error(`--db: "${scheme}://" is not a database this server can use: give a SQLite file path or a postgres:// URL`);
}

/** The URL without its password, for logs and messages. */
export function redactedDb(db: string): string {
  const target = parseDb(db);
  if (target.kind === "sqlite") return db;
  const url = new URL(target.url);
  if (url.password) url.password = "***";
  return url.toString();
}
