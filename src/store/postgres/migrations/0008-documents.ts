// Documents (issue 27), as in ../../sqlite/migrations/0008-documents.ts: what is attached to a resource, in one table
// told apart by `kind`; copies deny_policies and custom_roles and drops them.
export const sql = `
CREATE TABLE documents (
  resource_id bigint NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  kind text COLLATE "C" NOT NULL,
  -- COLLATE "C": listed in the same (bytewise) order as SQLite's
  key text COLLATE "C" NOT NULL,
  body bytea NOT NULL,
  entries integer NOT NULL,
  revision bigint NOT NULL,
  update_time bigint NOT NULL,
  PRIMARY KEY (resource_id, kind, key)
);

INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
  SELECT resource_id, 'denyPolicy', '', policy, rule_count, revision, update_time FROM deny_policies;
INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
  SELECT parent_id, 'role', role_id, role, 1, revision, update_time FROM custom_roles;
DROP TABLE deny_policies;
DROP TABLE custom_roles;
`;
