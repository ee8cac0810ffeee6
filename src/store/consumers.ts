// Sync consumers (the `consumers`, `consumer_failures` and `consumer_clock` tables): the SQL both stores run where the
// dialects agree, written once with named parameters (`@name`: SQLite takes it as it is, PostgreSQL through
// documents.ts's `numbered`). Every consumer write ticks the clock (store.ts, ConsumerChanges).
export const CONSUMER_SQL = {
  consumer: `SELECT * FROM consumers WHERE name = @name`,
  consumersAfter: `SELECT * FROM consumers WHERE version > @after ORDER BY name`,
  consumerNames: `SELECT name FROM consumers ORDER BY name`,
  consumersOfRoot: `SELECT COUNT(*) AS n FROM consumers WHERE root = @root`,
  consumerClock: `SELECT version, last_delete FROM consumer_clock`,
  tickConsumerClock: `UPDATE consumer_clock SET version = version + 1 RETURNING version`,
  tickConsumerDelete: `UPDATE consumer_clock SET version = version + 1, last_delete = version + 1 RETURNING version`,
  insertConsumer: `INSERT INTO consumers (name, display_name, subtree, resource_types, root, create_time, version)
    VALUES (@name, @displayName, @subtree, @resourceTypes, @root, @time, @version) RETURNING *`,
  deleteConsumer: `DELETE FROM consumers WHERE name = @name`,
  /** The acknowledged sequence never goes back (CASE: SQLite's MAX and PostgreSQL's GREATEST in one form). */
  acknowledge: `UPDATE consumers SET
      acknowledged_seq = CASE WHEN acknowledged_seq > @upTo THEN acknowledged_seq ELSE @upTo END,
      acknowledge_time = @time, failure_count = @failureCount, version = @version
    WHERE name = @name RETURNING *`,
  failureResources: `SELECT resource FROM consumer_failures WHERE consumer = @name`,
} as const;
