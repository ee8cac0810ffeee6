// Shared policies (AIP-2511) and their bindings. A shared policy is also a row of `resources` (its chain and its own
// access policy are a resource's); this table holds its content. Self-contained: it depends on 0001 only.
export const sql = `
CREATE TABLE shared_policies (
  resource_id INTEGER PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
  -- policy.v1.SharedPolicy bytes: display_name, description, bindings, deny_rules (no name, parent, etag or times)
  policy BLOB NOT NULL,
  -- change-log sequence of the write (its etag)
  revision INTEGER NOT NULL,
  update_time INTEGER NOT NULL
) STRICT;

CREATE TABLE shared_policy_bindings (
  policy_id INTEGER NOT NULL REFERENCES shared_policies(resource_id) ON DELETE CASCADE,
  -- a target's delete (a cascade included) removes its bindings
  target_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  create_seq INTEGER NOT NULL,
  create_time INTEGER NOT NULL,
  PRIMARY KEY (policy_id, target_id)
) STRICT;
-- A chain's shared policies, and a target's bindings, by target.
CREATE INDEX shared_policy_bindings_by_target ON shared_policy_bindings(target_id, policy_id);
`;
