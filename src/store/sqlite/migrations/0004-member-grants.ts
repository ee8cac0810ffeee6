// Reverse lookups (who can, what can): an index of which binding members hold which roles where, so that "the
// resources granting this principal one of these roles" is a keyset range read instead of a scan of every policy.
// One row per (member, role, resource); `path` copies the resource's path (kept by the trigger on moves) so that the
// grants of one member and role come in hierarchy order from the primary key. Policy writes rewrite a resource's rows
// in their own transaction (sqlite-store.ts); a deleted resource's rows go with it (ON DELETE CASCADE).
import { fromBinary } from "@bufbuild/protobuf";
import type Sqlite from "better-sqlite3";
import { PolicySchema } from "../../../../gen/policy/v1/policy_pb.js";
import { grantRows } from "../../rows.js";

export const sql = `
CREATE TABLE member_grants (
  member TEXT NOT NULL,
  role TEXT NOT NULL,
  path TEXT NOT NULL,
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  PRIMARY KEY (member, role, path)
) STRICT, WITHOUT ROWID;
CREATE INDEX member_grants_by_resource ON member_grants(resource_id);
CREATE TRIGGER member_grants_follow_moves AFTER UPDATE OF path ON resources BEGIN
  UPDATE member_grants SET path = NEW.path WHERE resource_id = NEW.id;
END;
`;

/** Indexes the policies stored before this migration (their bindings are protobuf bytes SQL cannot read). */
export function backfill(db: Sqlite.Database): void {
  const insert = db.prepare(
    `INSERT OR IGNORE INTO member_grants (member, role, path, resource_id) VALUES (@member, @role, @path, @id)`,
  );
  // In batches by id: a connection cannot write while it iterates a query, and all of them at once may not fit.
  const batch = db.prepare<[number], { id: number; path: string; policy: Uint8Array }>(
    `SELECT r.id, r.path, pol.policy FROM policies pol JOIN resources r ON r.id = pol.resource_id
     WHERE pol.binding_count > 0 AND pol.resource_id > ? ORDER BY pol.resource_id LIMIT 1000`,
  );
  for (let rows = batch.all(0); rows.length > 0; rows = batch.all(rows.at(-1)!.id)) {
    for (const row of rows) {
      for (const grant of grantRows(fromBinary(PolicySchema, row.policy).bindings)) insert.run({ ...grant, path: row.path, id: row.id });
    }
  }
}
