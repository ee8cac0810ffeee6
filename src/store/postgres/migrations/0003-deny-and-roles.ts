// Deny policies (one per resource) and custom roles (defined on root resources), as in
// ../../sqlite/migrations/0003-deny-and-roles.ts. Independent of 0002.
export const sql = `
CREATE TABLE deny_policies (
  resource_id bigint PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
  -- canonical policy.v1.DenyPolicy bytes: the rules only
  policy bytea NOT NULL,
  rule_count integer NOT NULL,
  -- change-log sequence of the write (its etag)
  revision bigint NOT NULL,
  update_time bigint NOT NULL
);

CREATE TABLE custom_roles (
  parent_id bigint NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  -- COLLATE "C": listed in the same (bytewise) order as SQLite's
  role_id text COLLATE "C" NOT NULL,
  -- policy.v1.Role bytes without etag and update time
  role bytea NOT NULL,
  revision bigint NOT NULL,
  update_time bigint NOT NULL,
  PRIMARY KEY (parent_id, role_id)
);
`;
