// What both stores' numbered migrations share: which of them a database still needs.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The migrations not yet `applied`, in order. Throws when the database has a version newer than any known: it was
 * migrated by a newer server, whose schema this one must not write to.
 */
export function pendingMigrations(migrations: readonly Migration[], applied: ReadonlySet<number>): Migration[] {
  const latestKnown = migrations.at(-1)?.version ?? 0;
  const newest = Math.max(0, ...applied);
  if (newest > latestKnown) {
    throw new Error(`the database has schema version ${newest}, newer than this server knows (${latestKnown}); upgrade the server`);
  }
  return migrations.filter((m) => !applied.has(m.version));
}
