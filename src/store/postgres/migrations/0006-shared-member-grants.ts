// Reverse lookups through shared policies, as in ../../sqlite/migrations/0006-shared-member-grants.ts: one row per
// (member, role, shared policy); grant points are the targets the shared policy is bound to. Shared-policy writes
// rewrite a policy's rows in their transaction (../postgres-store.ts); a deleted shared policy's rows go with it.
import { fromBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import { SharedPolicySchema } from "../../../../gen/policy/v1/shared_policy_pb.js";
import { grantRows } from "../../rows.js";

export const sql = `
CREATE TABLE shared_member_grants (
  member text COLLATE "C" NOT NULL,
  role text COLLATE "C" NOT NULL,
  policy_id bigint NOT NULL REFERENCES shared_policies(resource_id) ON DELETE CASCADE,
  PRIMARY KEY (member, role, policy_id)
);
CREATE INDEX shared_member_grants_by_policy ON shared_member_grants(policy_id);
`;

/** Indexes the shared policies stored before this migration (their bindings are protobuf bytes SQL cannot read). */
export async function backfill(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ id: number; policy: Uint8Array }>(`SELECT resource_id AS id, policy FROM shared_policies`);
  const ids: number[] = [];
  const members: string[] = [];
  const roles: string[] = [];
  for (const row of rows) {
    for (const grant of grantRows(fromBinary(SharedPolicySchema, row.policy).bindings)) {
      ids.push(row.id);
      members.push(grant.member);
      roles.push(grant.role);
    }
  }
  await client.query(
    `INSERT INTO shared_member_grants (member, role, policy_id)
     SELECT member, role, id FROM unnest($1::bigint[], $2::text[], $3::text[]) AS g(id, member, role) ON CONFLICT DO NOTHING`,
    [ids, members, roles],
  );
}
