// What both stores' numbered migrations share: which of them a database still needs.

/** `Db`: the connection `run` gets; `Result`: void for SQLite (synchronous), Promise<void> for PostgreSQL. */
export interface Migration<Db = never, Result extends void | Promise<void> = void | Promise<void>> {
  version: number;
  name: string;
  sql: string;
  /** Runs after `sql` in the same transaction: what SQL alone cannot do (e.g. decode protobuf columns). */
  run?: (db: Db) => Result;
}

/**
 * The migrations not yet `applied`, in order. Throws when the database has a version newer than any known: it was
 * migrated by a newer server, whose schema this one must not write to.
 */
export function pendingMigrations<M extends Migration>(migrations: readonly M[], applied: ReadonlySet<number>): M[] {
  const latestKnown = migrations.at(-1)?.version ?? 0;
  const newest = Math.max(0, ...applied);
  if (newest > latestKnown) {
    throw new Error(`the database has schema version ${newest}, newer than this server knows (${latestKnown}); upgrade the server`);
  }
  return migrations.filter((m) => !applied.has(m.version));
}
