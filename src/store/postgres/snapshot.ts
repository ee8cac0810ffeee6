// A consistent read of the PostgreSQL store for Snapshot: a REPEATABLE READ, READ ONLY transaction on a connection of
// its own, held across the pages of one stream, so every page reads the state of its first statement. Replicas of the
// server share the database, so a snapshot read through any of them is the same state for the same sequence. While it
// is open, vacuum keeps the row versions it may read: the domain bounds how long a snapshot may take.
import type pg from "pg";
import { encodedPolicyOf, pathEnd, type ResourcePolicyRow } from "../rows.js";
import { numbered } from "../documents.js";
import type { ExportPage, SnapshotLink, StoreSnapshot, StoredPolicy } from "../store.js";
import { exportPage } from "../store-records.js";
import { checkOut, storeErrorOf, type Connection } from "./database.js";
import { SQL } from "./statements.js";

export class PostgresSnapshot implements StoreSnapshot {
  private closed = false;

  private constructor(
    private readonly connection: Connection,
    readonly sequence: number,
    private readonly decode: (row: object, lazyPolicy?: boolean) => StoredPolicy,
  ) {}

  /** `decode`: a row's chain link, its policy decoded only when read if `lazyPolicy` (see Store.subtree). */
  static async open(pool: pg.Pool, decode: (row: object, lazyPolicy?: boolean) => StoredPolicy): Promise<PostgresSnapshot> {
    const connection = await checkOut(pool);
    try {
      await connection.client.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      // The transaction's first statement fixes its view of the database.
      const { rows } = await connection.client.query<{ seq: number }>(SQL.latestSeq);
      return new PostgresSnapshot(connection, Number(rows[0]!.seq), decode);
    } catch (e) {
      connection.release(true);
      throw storeErrorOf(e);
    }
  }

  private async rows(text: string, values: unknown[]): Promise<object[]> {
    try {
      return (await this.connection.client.query(text, values)).rows as object[];
    } catch (e) {
      throw storeErrorOf(e);
    }
  }

  async ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    const rows = await this.rows(SQL.ancestry, [resource]);
    return rows.length === 0 ? undefined : rows.map((row) => this.decode(row));
  }

  async subtree(root: string, afterCursor: string | undefined, limit: number, types?: readonly string[]): Promise<SnapshotLink[]> {
    const [found] = (await this.rows(SQL.pathByName, [root])) as { path: string }[];
    if (!found) return [];
    // The root's own path is the smallest of its subtree: "after" anything just below it includes it.
    const after = afterCursor !== undefined && afterCursor >= found.path ? afterCursor : found.path.slice(0, -1);
    const rows = (await this.rows(SQL.subtreeLinks, [after, pathEnd(found.path), limit, types?.length ? types : null])) as ResourcePolicyRow[];
    return rows.map((row) => ({ link: this.decode(row, true), cursor: row.path, policy: encodedPolicyOf(row) }));
  }

  async exportRecords(after: string | undefined, limit: number): Promise<ExportPage> {
    return exportPage(
      async (sql, params) => {
        const { text, order } = numbered(sql);
        return (await this.rows(text, order.map((name) => params[name]))) as Record<string, unknown>[];
      },
      after,
      limit,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Closing the connection ends the session and with it the transaction; a read-only one has nothing to commit.
    try {
      await this.connection.client.query("COMMIT");
      this.connection.release();
    } catch {
      this.connection.release(true);
    }
  }
}
