// Shared policies' content becomes a document of its own resource (kind 'sharedPolicy', key ''), as deny policies and
// custom roles did in 0008: shared_policies is copied into documents and dropped. Bindings and the shared member index
// referenced shared_policies; they now reference the shared policy's resource (its delete still takes them along).
// SQLite cannot change a foreign key, so both tables are made anew and their rows copied, before shared_policies is
// dropped (dropping it first would cascade its delete to them). As ../../postgres/migrations/0009-shared-policy-documents.ts.
export const sql = `
INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
  SELECT resource_id, 'sharedPolicy', '', policy, 1, revision, update_time FROM shared_policies;

CREATE TABLE shared_policy_bindings_new (
  policy_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  target_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  create_seq INTEGER NOT NULL,
  create_time INTEGER NOT NULL,
  PRIMARY KEY (policy_id, target_id)
) STRICT;
INSERT INTO shared_policy_bindings_new SELECT policy_id, target_id, create_seq, create_time FROM shared_policy_bindings;
DROP TABLE shared_policy_bindings;
ALTER TABLE shared_policy_bindings_new RENAME TO shared_policy_bindings;
CREATE INDEX shared_policy_bindings_by_target ON shared_policy_bindings(target_id, policy_id);

CREATE TABLE shared_member_grants_new (
  member TEXT NOT NULL,
  role TEXT NOT NULL,
  policy_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  PRIMARY KEY (member, role, policy_id)
) STRICT, WITHOUT ROWID;
INSERT INTO shared_member_grants_new SELECT member, role, policy_id FROM shared_member_grants;
DROP TABLE shared_member_grants;
ALTER TABLE shared_member_grants_new RENAME TO shared_member_grants;
CREATE INDEX shared_member_grants_by_policy ON shared_member_grants(policy_id);

DROP TABLE shared_policies;
`;
