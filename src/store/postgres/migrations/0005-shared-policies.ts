// Shared policies (AIP-2511) and their bindings, as in ../../sqlite/migrations/0005-shared-policies.ts. A shared policy
// is also a row of `resources` (its chain and its own access policy are a resource's); this table holds its content.
export const sql = `
CREATE TABLE shared_policies (
  resource_id bigint PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
  -- policy.v1.SharedPolicy bytes: display_name, description, bindings, deny_rules (no name, parent, etag or times)
  policy bytea NOT NULL,
  -- change-log sequence of the write (its etag)
  revision bigint NOT NULL,
  update_time bigint NOT NULL
);

CREATE TABLE shared_policy_bindings (
  policy_id bigint NOT NULL REFERENCES shared_policies(resource_id) ON DELETE CASCADE,
  -- a target's delete (a cascade included) removes its bindings
  target_id bigint NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  create_seq bigint NOT NULL,
  create_time bigint NOT NULL,
  PRIMARY KEY (policy_id, target_id)
);
-- A chain's shared policies, and a target's bindings, by target.
CREATE INDEX shared_policy_bindings_by_target ON shared_policy_bindings(target_id, policy_id);
`;
