// The first schema: resources (the hierarchy), policies, the append-only change log, and server secrets.
export const sql = `
CREATE TABLE resources (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  parent_id INTEGER REFERENCES resources(id),
  -- the ids from the root down to this resource, '/1/5/17/': ancestors and subtrees by prefix, in one indexed query
  path TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  display_name TEXT NOT NULL,
  -- change-log sequence of the resource's creation and of its last change (its etag)
  create_seq INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  create_time INTEGER NOT NULL,
  update_time INTEGER NOT NULL,
  -- 1 while the resource's policy has a binding (kept by the triggers below): ListPolicies reads only those rows
  has_bindings INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX resources_by_parent ON resources(parent_id, name);
CREATE INDEX resources_by_type ON resources(type, name);
CREATE INDEX resources_by_type_path ON resources(type, path);
CREATE INDEX resources_with_bindings ON resources(type, path) WHERE has_bindings = 1;

CREATE TABLE policies (
  resource_id INTEGER PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
  -- canonical policy.v1.Policy bytes: version, bindings, audit_configs
  policy BLOB NOT NULL,
  binding_count INTEGER NOT NULL,
  -- change-log sequence of the write (its etag)
  revision INTEGER NOT NULL,
  update_time INTEGER NOT NULL
) STRICT;
CREATE TRIGGER policies_flag_insert AFTER INSERT ON policies BEGIN
  UPDATE resources SET has_bindings = (NEW.binding_count > 0) WHERE id = NEW.resource_id;
END;
CREATE TRIGGER policies_flag_update AFTER UPDATE OF binding_count ON policies BEGIN
  UPDATE resources SET has_bindings = (NEW.binding_count > 0) WHERE id = NEW.resource_id;
END;

CREATE TABLE change_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  principal TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  etag_before BLOB,
  etag_after BLOB,
  -- the new state: policy.v1.Policy or policy.v1.Resource bytes; NULL for a delete
  change BLOB
) STRICT;
CREATE INDEX change_log_by_resource ON change_log(resource, seq);

CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
) STRICT;
INSERT INTO secrets(name, value) VALUES ('page_token_key', randomblob(32));
`;
