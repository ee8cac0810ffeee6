// Databases taken back to an earlier schema, as a server before a migration left them, with their rows: what the
// migration tests (test/store/member-grants-migration.test.ts) and the migration's benchmark
// (bench/documents-migration.ts) open again to have the migration run on existing data.
import { sql as denyAndRolesSql } from "../../src/store/postgres/migrations/0003-deny-and-roles.js";
import { sql as sqliteDenyAndRolesSql } from "../../src/store/sqlite/migrations/0003-deny-and-roles.js";

/** Back to the tables of deny policies and custom roles (migration 3), their rows copied out of the documents. */
const backToDenyAndRoles = (tables: string) => `${tables}
  INSERT INTO deny_policies (resource_id, policy, rule_count, revision, update_time)
    SELECT resource_id, body, entries, revision, update_time FROM documents WHERE kind = 'denyPolicy';
  INSERT INTO custom_roles (parent_id, role_id, role, revision, update_time)
    SELECT resource_id, key, body, revision, update_time FROM documents WHERE kind = 'role';
  DROP TABLE documents; DELETE FROM schema_migrations WHERE version = 8`;
export const SQLITE_BEFORE_DOCUMENTS = backToDenyAndRoles(sqliteDenyAndRolesSql);
export const POSTGRES_BEFORE_DOCUMENTS = backToDenyAndRoles(denyAndRolesSql);

/** The policies table of migration 1, with SQLite's has_bindings triggers on it. */
const policiesTable = (integer: string, count: string, blob: string, strict: string) => `
  CREATE TABLE policies (resource_id ${integer} PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
    policy ${blob} NOT NULL, binding_count ${count} NOT NULL, revision ${integer} NOT NULL, update_time ${integer} NOT NULL)${strict}`;
const backToPolicies = (table: string) => `${table};
  INSERT INTO policies (resource_id, policy, binding_count, revision, update_time)
    SELECT resource_id, body, entries, revision, update_time FROM documents WHERE kind = 'policy';
  DELETE FROM documents WHERE kind = 'policy'; DELETE FROM schema_migrations WHERE version = 11`;
/** Back to the policies table (migration 11's), its rows copied out of the documents. */
export const SQLITE_BEFORE_POLICY_DOCUMENTS = backToPolicies(`DROP TRIGGER documents_policy_flag_insert;
  DROP TRIGGER documents_policy_flag_update; ${policiesTable("INTEGER", "INTEGER", "BLOB", " STRICT")};
  CREATE TRIGGER policies_flag_insert AFTER INSERT ON policies BEGIN
    UPDATE resources SET has_bindings = (NEW.binding_count > 0) WHERE id = NEW.resource_id;
  END;
  CREATE TRIGGER policies_flag_update AFTER UPDATE OF binding_count ON policies BEGIN
    UPDATE resources SET has_bindings = (NEW.binding_count > 0) WHERE id = NEW.resource_id;
  END`);
export const POSTGRES_BEFORE_POLICY_DOCUMENTS = backToPolicies(policiesTable("bigint", "integer", "bytea", ""));

/**
 * Back to shared_policy_bindings (migration 9's, referencing resources), its rows copied out of the links (and first
 * back before the policy documents: a database of version 9 had the policies table).
 */
const bindingsTable = (integer: string) => `
  CREATE TABLE shared_policy_bindings (policy_id ${integer} NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    target_id ${integer} NOT NULL REFERENCES resources(id) ON DELETE CASCADE, create_seq ${integer} NOT NULL,
    create_time ${integer} NOT NULL, PRIMARY KEY (policy_id, target_id))`;
const backToBindings = (table: string) => `${table};
  CREATE INDEX shared_policy_bindings_by_target ON shared_policy_bindings(target_id, policy_id);
  INSERT INTO shared_policy_bindings SELECT from_id, to_id, revision, create_time FROM links WHERE kind = 'sharedPolicyBinding';
  DROP TABLE links; DELETE FROM schema_migrations WHERE version = 10`;
export const SQLITE_BEFORE_LINKS = `${SQLITE_BEFORE_POLICY_DOCUMENTS}; ${backToBindings(`${bindingsTable("INTEGER")} STRICT`)}`;
export const POSTGRES_BEFORE_LINKS = `${POSTGRES_BEFORE_POLICY_DOCUMENTS}; ${backToBindings(bindingsTable("bigint"))}`;

/**
 * Back to shared_policies (migration 5), its rows copied out of the documents, bindings and index referencing it (and
 * first back before the links: a database of version 8 had bindings).
 */
export const SQLITE_BEFORE_SHARED_DOCUMENTS = `${SQLITE_BEFORE_LINKS};
  CREATE TABLE shared_policies (resource_id INTEGER PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
    policy BLOB NOT NULL, revision INTEGER NOT NULL, update_time INTEGER NOT NULL) STRICT;
  INSERT INTO shared_policies SELECT resource_id, body, revision, update_time FROM documents WHERE kind = 'sharedPolicy';
  CREATE TABLE old_bindings (policy_id INTEGER NOT NULL REFERENCES shared_policies(resource_id) ON DELETE CASCADE,
    target_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE, create_seq INTEGER NOT NULL,
    create_time INTEGER NOT NULL, PRIMARY KEY (policy_id, target_id)) STRICT;
  INSERT INTO old_bindings SELECT * FROM shared_policy_bindings;
  DROP TABLE shared_policy_bindings;
  ALTER TABLE old_bindings RENAME TO shared_policy_bindings;
  CREATE INDEX shared_policy_bindings_by_target ON shared_policy_bindings(target_id, policy_id);
  CREATE TABLE old_grants (member TEXT NOT NULL, role TEXT NOT NULL,
    policy_id INTEGER NOT NULL REFERENCES shared_policies(resource_id) ON DELETE CASCADE,
    PRIMARY KEY (member, role, policy_id)) STRICT, WITHOUT ROWID;
  INSERT INTO old_grants SELECT * FROM shared_member_grants;
  DROP TABLE shared_member_grants;
  ALTER TABLE old_grants RENAME TO shared_member_grants;
  CREATE INDEX shared_member_grants_by_policy ON shared_member_grants(policy_id);
  DELETE FROM documents WHERE kind = 'sharedPolicy';
  DELETE FROM schema_migrations WHERE version = 9`;
export const POSTGRES_BEFORE_SHARED_DOCUMENTS = `${POSTGRES_BEFORE_LINKS};
  CREATE TABLE shared_policies (resource_id bigint PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
    policy bytea NOT NULL, revision bigint NOT NULL, update_time bigint NOT NULL);
  INSERT INTO shared_policies SELECT resource_id, body, revision, update_time FROM documents WHERE kind = 'sharedPolicy';
  ALTER TABLE shared_policy_bindings DROP CONSTRAINT shared_policy_bindings_policy_id_fkey,
    ADD CONSTRAINT shared_policy_bindings_policy_id_fkey FOREIGN KEY (policy_id) REFERENCES shared_policies(resource_id) ON DELETE CASCADE;
  ALTER TABLE shared_member_grants DROP CONSTRAINT shared_member_grants_policy_id_fkey,
    ADD CONSTRAINT shared_member_grants_policy_id_fkey FOREIGN KEY (policy_id) REFERENCES shared_policies(resource_id) ON DELETE CASCADE;
  DELETE FROM documents WHERE kind = 'sharedPolicy';
  DELETE FROM schema_migrations WHERE version = 9`;

