// Shared policies' content becomes a document of its own resource (kind 'sharedPolicy', key ''), as in
// ../../sqlite/migrations/0009-shared-policy-documents.ts; bindings and the shared member index now reference the
// shared policy's resource.
export const sql = `
INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
  SELECT resource_id, 'sharedPolicy', '', policy, 1, revision, update_time FROM shared_policies;
ALTER TABLE shared_policy_bindings DROP CONSTRAINT shared_policy_bindings_policy_id_fkey,
  ADD CONSTRAINT shared_policy_bindings_policy_id_fkey FOREIGN KEY (policy_id) REFERENCES resources(id) ON DELETE CASCADE;
ALTER TABLE shared_member_grants DROP CONSTRAINT shared_member_grants_policy_id_fkey,
  ADD CONSTRAINT shared_member_grants_policy_id_fkey FOREIGN KEY (policy_id) REFERENCES resources(id) ON DELETE CASCADE;
DROP TABLE shared_policies;
`;
