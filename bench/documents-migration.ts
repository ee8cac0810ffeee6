// Times migrations 8, 9, 10 and 11 (documents and links, issue 27) on a SQLite database of the benchmark's shape: the
// dataset is generated (bench/dataset.ts, already at the newest schema), given deny policies, custom roles and shared
// policies with a binding each, taken back to schema 7 (as a server before the migrations left it) and opened again,
// which applies them; the open is timed. Two cases: a deny policy on every organization and folder with 5 custom roles per
// organization, and a deny policy on every resource (the most rows migration 8 can have to copy). Then migration 11
// alone (the access policies into documents) on the dataset as generated, taken back to schema 10 — on SQLite, and with
// --db on PostgreSQL: the same dataset copied into a database of its own (copyStore, as migrate-store does; dropped
// after), taken back to schema 10 there and migrated again.
//   node --import tsx bench/documents-migration.ts [resources=1000000] [--db postgres://root@127.0.0.1/postgres]
import { create, toBinary } from "@bufbuild/protobuf";
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import { DenyPolicySchema } from "../gen/policy/v1/deny_policy_pb.js";
import { RoleSchema } from "../gen/policy/v1/role_pb.js";
import { SharedPolicySchema } from "../gen/policy/v1/shared_policy_pb.js";
import { copyStore } from "../src/store/copy-store.js";
import { createPool, migrate } from "../src/store/postgres/database.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { openDatabase } from "../src/store/sqlite/database.js";
import {
  POSTGRES_BEFORE_POLICY_DOCUMENTS,
  SQLITE_BEFORE_DOCUMENTS,
  SQLITE_BEFORE_POLICY_DOCUMENTS,
  SQLITE_BEFORE_SHARED_DOCUMENTS,
} from "../test/helpers/schema-downgrades.js";
import { generateDataset } from "./dataset.js";
import { adminQuery } from "./postgres.js";

const { values: flags, positionals } = parseArgs({ options: { db: { type: "string" } }, allowPositionals: true });
const resources = Number(positionals[0] ?? 1_000_000);
const loadNow = () => execSync("uptime").toString().trim().replace(/.*load average: /, "");
const DENY = toBinary(DenyPolicySchema, create(DenyPolicySchema, {
  rules: [{ deniedPrincipals: ["user:eve@example.com"], deniedPermissions: ["projects.delete"] }],
}));

function measure(label: string, denyOn: string): void {
  const path = join(tmpdir(), `documents-migration-${process.pid}.db`);
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
  const dataset = generateDataset(path, resources);
  // Back to schema 7 with the rows a server of that version would hold.
  const raw = new Sqlite(path);
  raw.exec(`${SQLITE_BEFORE_SHARED_DOCUMENTS}; ${SQLITE_BEFORE_DOCUMENTS}`);
  const now = Date.now();
  const deny = raw.prepare(`INSERT INTO deny_policies (resource_id, policy, rule_count, revision, update_time)
    SELECT id, ?, 1, create_seq, ? FROM resources WHERE ${denyOn}`).run(DENY, now).changes;
  const insertRole = raw.prepare(`INSERT INTO custom_roles (parent_id, role_id, role, revision, update_time)
    SELECT id, ?, ?, create_seq, ? FROM resources WHERE type = 'organization'`);
  let roles = 0;
  for (let i = 0; i < 5; i++) {
    const role = toBinary(RoleSchema, create(RoleSchema, { title: `Role ${i}`, includedPermissions: ["projects.get", "projects.update"] }));
    roles += insertRole.run(`role${i}`, role, now).changes;
  }
  // One shared policy per organization (a resource under it), bound to the organization and indexed.
  const orgs = raw.prepare<[], { id: number; path: string }>(`SELECT id, path FROM resources WHERE type = 'organization'`).all();
  let nextId = (raw.prepare("SELECT MAX(id) FROM resources").pluck().get() as number) + 1;
  const insertResource = raw.prepare(`INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision,
    create_time, update_time) VALUES (?, ?, ?, ?, 'shared_policy', '', 1, 1, ?, ?)`);
  const insertShared = raw.prepare(`INSERT INTO shared_policies (resource_id, policy, revision, update_time) VALUES (?, ?, 1, ?)`);
  const insertBinding = raw.prepare(`INSERT INTO shared_policy_bindings (policy_id, target_id, create_seq, create_time) VALUES (?, ?, 1, ?)`);
  const insertGrant = raw.prepare(`INSERT INTO shared_member_grants (member, role, policy_id) VALUES (?, 'roles/viewer', ?)`);
  const content = toBinary(SharedPolicySchema, create(SharedPolicySchema, {
    bindings: [{ role: "roles/viewer", members: ["group:auditors"] }],
  }));
  raw.transaction(() => {
    for (const org of orgs) {
      const id = nextId++;
      insertResource.run(id, `sharedPolicies/s${id}`, org.id, `${org.path}${id}/`, now, now);
      insertShared.run(id, content, now);
      insertBinding.run(id, org.id, now);
      insertGrant.run("group:auditors", id);
    }
  })();
  raw.pragma("wal_checkpoint(TRUNCATE)");
  raw.close();
  const started = performance.now();
  const db = openDatabase(path);
  const seconds = (performance.now() - started) / 1000;
  const copied = db.prepare("SELECT COUNT(*) FROM documents WHERE kind <> 'policy'").pluck().get() as number;
  const policies = db.prepare("SELECT COUNT(*) FROM documents WHERE kind = 'policy'").pluck().get() as number;
  db.close();
  // The same open with nothing to migrate: what the migration adds is the difference.
  const reopened = performance.now();
  openDatabase(path).close();
  const baseline = (performance.now() - reopened) / 1000;
  const load = loadNow();
  console.log(
    `${label}: ${dataset.resources.toLocaleString("en")} resources, ${deny.toLocaleString("en")} deny policies and ` +
      `${roles.toLocaleString("en")} custom roles, ${orgs.length.toLocaleString("en")} shared policies -> ${copied.toLocaleString("en")} documents and ` +
      `${policies.toLocaleString("en")} access policies in ${seconds.toFixed(2)} s ` +
      `(an open with nothing to migrate: ${baseline.toFixed(2)} s) ` +
      `(file ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB; load ${load})`,
  );
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}

/** Migration 11 alone on SQLite: the generated dataset taken back to schema 10 and opened again. */
function measurePolicies(path: string): void {
  const raw = new Sqlite(path);
  raw.exec(SQLITE_BEFORE_POLICY_DOCUMENTS);
  raw.pragma("wal_checkpoint(TRUNCATE)");
  raw.close();
  const started = performance.now();
  const db = openDatabase(path);
  const seconds = (performance.now() - started) / 1000;
  const policies = db.prepare("SELECT COUNT(*) FROM documents WHERE kind = 'policy'").pluck().get() as number;
  db.close();
  const reopened = performance.now();
  openDatabase(path).close();
  const baseline = (performance.now() - reopened) / 1000;
  console.log(
    `migration 11 (SQLite): ${policies.toLocaleString("en")} access policies moved in ${seconds.toFixed(2)} s ` +
      `(an open with nothing to migrate: ${baseline.toFixed(2)} s) (file ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB; load ${loadNow()})`,
  );
}

/** Migration 11 alone on PostgreSQL: the same dataset copied into a database of its own, taken back to 10, migrated. */
async function measurePoliciesPostgres(path: string, url: string): Promise<void> {
  const name = `policy_migration_${randomBytes(4).toString("hex")}`;
  const admin = (sql: string) => adminQuery(url, sql);
  await admin(`CREATE DATABASE ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  try {
    const copyStarted = performance.now();
    const source = new SqliteStore(path);
    const copied = await PostgresStore.open({ url: target.toString(), poolSize: 2, statementTimeoutMs: 3_600_000 });
    try {
      await copyStore(source, copied);
    } finally {
      await source.close();
      await copied.close();
    }
    const copySeconds = (performance.now() - copyStarted) / 1000;
    const pool = createPool({ url: target.toString(), poolSize: 2, statementTimeoutMs: 3_600_000 });
    try {
      await pool.query(POSTGRES_BEFORE_POLICY_DOCUMENTS);
      await pool.query("VACUUM ANALYZE");
      const started = performance.now();
      await migrate(pool);
      const seconds = (performance.now() - started) / 1000;
      const { rows } = await pool.query<{ n: string }>("SELECT COUNT(*) AS n FROM documents WHERE kind = 'policy'");
      const again = performance.now();
      await migrate(pool);
      const baseline = (performance.now() - again) / 1000;
      console.log(
        `migration 11 (PostgreSQL): ${Number(rows[0]!.n).toLocaleString("en")} access policies moved in ${seconds.toFixed(2)} s ` +
          `(a migrate with nothing to do: ${baseline.toFixed(2)} s; the copy into PostgreSQL took ${copySeconds.toFixed(0)} s) (load ${loadNow()})`,
      );
    } finally {
      await pool.end();
    }
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

measure("organizations and folders", "type IN ('organization', 'folder')");
measure("every resource", "1 = 1");
const path = join(tmpdir(), `policy-documents-migration-${process.pid}.db`);
for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
const dataset = generateDataset(path, resources);
console.log(`dataset: ${dataset.resources.toLocaleString("en")} resources, ${dataset.policies.toLocaleString("en")} access policies`);
try {
  if (flags.db) await measurePoliciesPostgres(path, flags.db);
  measurePolicies(path);
} finally {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}
