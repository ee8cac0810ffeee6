// Access policies become documents (kind 'policy', key '', entries: the binding count), as in
// ../../sqlite/migrations/0011-policy-documents.ts: rows copied with their revisions and times, `policies` dropped.
// resources.has_bindings stays as it is: the store's policy writes set it (statements.ts, FLUSH_POLICIES, CREATE_MANY).
export const sql = `
INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
  SELECT resource_id, 'policy', '', policy, binding_count, revision, update_time FROM policies;
DROP TABLE policies;
`;
