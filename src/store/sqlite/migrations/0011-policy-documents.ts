// Access policies become documents (kind 'policy', key '', entries: the binding count), so that every attached kind is
// a row of one table and `policies` goes. Rows are copied with their revisions and times, so every etag and update
// time is kept. resources.has_bindings (ListPolicies' partial index) is kept as before, by triggers now on the
// documents of that kind; created after the copy, whose flags are already right. As
// ../../postgres/migrations/0011-policy-documents.ts.
export const sql = `
INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
  SELECT resource_id, 'policy', '', policy, binding_count, revision, update_time FROM policies;
DROP TABLE policies;
CREATE TRIGGER documents_policy_flag_insert AFTER INSERT ON documents WHEN NEW.kind = 'policy' BEGIN
  UPDATE resources SET has_bindings = (NEW.entries > 0) WHERE id = NEW.resource_id;
END;
CREATE TRIGGER documents_policy_flag_update AFTER UPDATE OF entries ON documents WHEN NEW.kind = 'policy' BEGIN
  UPDATE resources SET has_bindings = (NEW.entries > 0) WHERE id = NEW.resource_id;
END;
`;
