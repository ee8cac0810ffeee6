// Documents (issue 27): what is attached to a resource — deny policies, custom roles, and any later kind — in one
// table, told apart by `kind` (the domain's registry of kinds, domain/kinds.ts, names them). A kind with one document
// per resource keys it ''; one with many (custom roles) keys each by its id. Copies deny_policies and custom_roles
// and drops them. The same table and copy as ../../postgres/migrations/0008-documents.ts.
export const sql = `
CREATE TABLE documents (
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  -- the kind's protobuf bytes as the domain encoded them (no etag, no update time: they are columns)
  body BLOB NOT NULL,
  -- how many entries the body holds (a deny policy's rules); 0: empty, left out of chain links
  entries INTEGER NOT NULL,
  -- change-log sequence of the write (its etag)
  revision INTEGER NOT NULL,
  update_time INTEGER NOT NULL,
  -- a resource's documents of a kind, by key: one range of the primary key
  PRIMARY KEY (resource_id, kind, key)
) STRICT, WITHOUT ROWID;

INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
  SELECT resource_id, 'denyPolicy', '', policy, rule_count, revision, update_time FROM deny_policies;
INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
  SELECT parent_id, 'role', role_id, role, 1, revision, update_time FROM custom_roles;
DROP TABLE deny_policies;
DROP TABLE custom_roles;
`;
