// Shared-policy bindings become links between resources (kind 'sharedPolicyBinding'), as in
// ../../sqlite/migrations/0010-links.ts: one table for every kind of link, rows copied with their sequences and times.
export const sql = `
CREATE TABLE links (
  kind text NOT NULL,
  from_id bigint NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  to_id bigint NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  revision bigint NOT NULL,
  create_time bigint NOT NULL,
  PRIMARY KEY (kind, from_id, to_id)
);
-- A chain's links, and a target's bindings, by the resource they point to.
CREATE INDEX links_by_to ON links(kind, to_id, from_id);
INSERT INTO links (kind, from_id, to_id, revision, create_time)
  SELECT 'sharedPolicyBinding', policy_id, target_id, create_seq, create_time FROM shared_policy_bindings;
DROP TABLE shared_policy_bindings;
`;
