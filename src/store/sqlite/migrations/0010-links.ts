// Shared-policy bindings become links between resources (kind 'sharedPolicyBinding'): one table for every kind of link,
// as documents are for every kind of attached document. A link runs from a resource (the shared policy's) to another
// (its target); `revision` is the change-log sequence that made it (the binding's sequence and etag). Rows are copied
// with their sequences and times, so every binding reads as before. As ../../postgres/migrations/0010-links.ts.
export const sql = `
CREATE TABLE links (
  kind TEXT NOT NULL,
  from_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  to_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  revision INTEGER NOT NULL,
  create_time INTEGER NOT NULL,
  PRIMARY KEY (kind, from_id, to_id)
) STRICT;
-- A chain's links, and a target's bindings, by the resource they point to.
CREATE INDEX links_by_to ON links(kind, to_id, from_id);
INSERT INTO links (kind, from_id, to_id, revision, create_time)
  SELECT 'sharedPolicyBinding', policy_id, target_id, create_seq, create_time FROM shared_policy_bindings;
DROP TABLE shared_policy_bindings;
`;
