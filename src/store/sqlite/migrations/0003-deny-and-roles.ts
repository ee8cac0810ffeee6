// Deny policies (one per resource) and custom roles (defined on root resources). Independent of 0002.
export const sql = `
CREATE TABLE deny_policies (
  resource_id INTEGER PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
  -- canonical policy.v1.DenyPolicy bytes: the rules only
  policy BLOB NOT NULL,
  rule_count INTEGER NOT NULL,
  -- change-log sequence of the write (its etag)
  revision INTEGER NOT NULL,
  update_time INTEGER NOT NULL
) STRICT;

CREATE TABLE custom_roles (
  parent_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  role_id TEXT NOT NULL,
  -- policy.v1.Role bytes without etag and update time
  role BLOB NOT NULL,
  revision INTEGER NOT NULL,
  update_time INTEGER NOT NULL,
  PRIMARY KEY (parent_id, role_id)
) STRICT;
`;
