// Reverse lookups, as in ../../sqlite/migrations/0004-member-grants.ts: which binding members hold which roles where,
// one row per (member, role, resource), `path` a copy of the resource's (bytewise, as resources.path) so one member and
// role's grants come in hierarchy order off the primary key. Policy writes rewrite a resource's rows in their
// transaction and a move rewrites its subtree's paths in its own statement (../postgres-store.ts); a deleted
// resource's rows go with it (ON DELETE CASCADE).
import { fromBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import { PolicySchema } from "../../../../gen/policy/v1/policy_pb.js";
import { grantRows } from "../../rows.js";

export const sql = `
CREATE TABLE member_grants (
  member text COLLATE "C" NOT NULL,
  role text COLLATE "C" NOT NULL,
  path text COLLATE "C" NOT NULL,
  resource_id bigint NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  PRIMARY KEY (member, role, path)
);
CREATE INDEX member_grants_by_resource ON member_grants(resource_id);
`;

/** Indexes the policies stored before this migration (their bindings are protobuf bytes SQL cannot read). */
export async function backfill(client: pg.PoolClient): Promise<void> {
  // In batches by id, so that a large database is not read into memory at once.
  for (let after = 0; ; ) {
    const { rows } = await client.query<{ id: number; policy: Uint8Array }>(
      `SELECT resource_id AS id, policy FROM policies WHERE binding_count > 0 AND resource_id > $1
       ORDER BY resource_id LIMIT 1000`,
      [after],
    );
    if (rows.length === 0) return;
    const ids: number[] = [];
    const members: string[] = [];
    const roles: string[] = [];
    for (const row of rows) {
      for (const grant of grantRows(fromBinary(PolicySchema, row.policy).bindings)) {
        ids.push(row.id);
        members.push(grant.member);
        roles.push(grant.role);
      }
    }
    await client.query(
      `INSERT INTO member_grants (member, role, path, resource_id)
       SELECT g.member, g.role, r.path, r.id FROM unnest($1::bigint[], $2::text[], $3::text[]) AS g(id, member, role)
       JOIN resources r ON r.id = g.id ON CONFLICT DO NOTHING`,
      [ids, members, roles],
    );
    after = rows.at(-1)!.id;
  }
}
