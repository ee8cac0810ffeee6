// Reverse lookups through shared policies (what can): which binding members hold which roles in which shared policy,
// one row per (member, role, shared policy). A grant point is then a target the shared policy is bound to, read
// through shared_policy_bindings with the target's path. Shared-policy writes rewrite a policy's rows in their own
// transaction (sqlite-store.ts); a deleted shared policy's rows go with it (ON DELETE CASCADE).
import { fromBinary } from "@bufbuild/protobuf";
import type Sqlite from "better-sqlite3";
import { SharedPolicySchema } from "../../../../gen/policy/v1/shared_policy_pb.js";
import { grantRows } from "../../rows.js";

export const sql = `
CREATE TABLE shared_member_grants (
  member TEXT NOT NULL,
  role TEXT NOT NULL,
  policy_id INTEGER NOT NULL REFERENCES shared_policies(resource_id) ON DELETE CASCADE,
  PRIMARY KEY (member, role, policy_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX shared_member_grants_by_policy ON shared_member_grants(policy_id);
`;

/** Indexes the shared policies stored before this migration (their bindings are protobuf bytes SQL cannot read). */
export function backfill(db: Sqlite.Database): void {
  const insert = db.prepare(`INSERT OR IGNORE INTO shared_member_grants (member, role, policy_id) VALUES (@member, @role, @id)`);
  const rows = db.prepare<[], { id: number; policy: Uint8Array }>(`SELECT resource_id AS id, policy FROM shared_policies`).all();
  for (const row of rows) {
    for (const grant of grantRows(fromBinary(SharedPolicySchema, row.policy).bindings)) insert.run({ ...grant, id: row.id });
  }
}
