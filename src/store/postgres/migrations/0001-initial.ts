// The first schema, the same tables as SQLite's (see ../../sqlite/migrations/0001-initial.ts). Names and paths compare
// bytewise (COLLATE "C"), so listings page in the same order as SQLite's and a path's subtree is a range ('/' < '0').
export const sql = `
CREATE TABLE resources (
  id bigint PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  parent_id bigint REFERENCES resources(id),
  path text COLLATE "C" NOT NULL UNIQUE,
  type text NOT NULL,
  display_name text NOT NULL,
  create_seq bigint NOT NULL,
  revision bigint NOT NULL,
  create_time bigint NOT NULL,
  update_time bigint NOT NULL,
  has_bindings boolean NOT NULL DEFAULT false
);
CREATE INDEX resources_by_parent ON resources(parent_id, name);
CREATE INDEX resources_by_type ON resources(type, name);
CREATE INDEX resources_by_type_path ON resources(type, path);
CREATE INDEX resources_with_bindings ON resources(type, path) WHERE has_bindings;

CREATE TABLE policies (
  resource_id bigint PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
  policy bytea NOT NULL,
  binding_count integer NOT NULL,
  revision bigint NOT NULL,
  update_time bigint NOT NULL
);

-- seq is assigned by the writer as MAX(seq) + 1 while it holds the write lock (see ../postgres-store.ts), so sequences
-- are in commit order: no identity column, whose values would be in start order.
CREATE TABLE change_log (
  seq bigint PRIMARY KEY,
  time bigint NOT NULL,
  principal text NOT NULL,
  action text NOT NULL,
  resource text COLLATE "C" NOT NULL,
  etag_before bytea,
  etag_after bytea,
  change bytea
);
CREATE INDEX change_log_by_resource ON change_log(resource, seq);

CREATE TABLE secrets (
  name text PRIMARY KEY,
  value bytea NOT NULL
);
`;
