// `npm run migrate-store`: a SQLite database written through the server is copied into an empty PostgreSQL database;
// a server on the copy reads the same policies with the same etags, page tokens included; a non-empty target is refused.
// And back: the PostgreSQL database, changed there, is copied into a new SQLite file that a server reads alike.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../helpers/child-server.js";
import { createPostgresDatabase, postgresAvailable, type PostgresDatabase } from "../helpers/postgres.js";
import { startTestServer } from "../helpers/server.js";

/** What a server holds of the test's estate, every kind of object with its etag, as a client reads it. */
async function readEstate(api: Awaited<ReturnType<typeof startTestServer>>["grpc"], pageToken: string) {
  const names = ["organizations/o", ...Array.from({ length: 29 }, (_, i) => `projects/p${i}`)];
  return {
    policies: await Promise.all(names.map((resource) => api.policies.getPolicy({ resource }))),
    resources: await Promise.all(names.map((name) => api.resources.getResource({ name }))),
    deny: await api.denyPolicies.getDenyPolicy({ resource: "organizations/o" }),
    role: await api.roles.getRole({ name: "organizations/o/roles/deployer" }),
    shared: await api.sharedPolicies.getSharedPolicy({ name: "sharedPolicies/baseline" }),
    bindings: (await api.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: "sharedPolicies/baseline" })).bindings,
    lookup: (await api.access.lookupResources({ principals: ["user:sam@example.com"], permission: "projects.get", resourceType: "project" })).resources,
    consumers: (await api.sync.listConsumers({})).consumers,
    page: (await api.resources.listResources({ parent: "organizations/o", pageSize: 10, pageToken })).resources.map((r) => r.name),
    // The change log came along: the audit history of a resource.
    audit: (await api.audit.listAuditEntries({ resource: "projects/p0" })).entries,
  };
}

function migrateStore(from: string, to: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, ["--import", "tsx", "src/migrate-store.ts", "--from", from, "--to", to], { cwd: REPO_ROOT, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }),
    ),
  );
}

describe.runIf(postgresAvailable())("migrate-store", () => {
  const dir = mkdtempSync(join(tmpdir(), "migrate-store-"));
  const databases: PostgresDatabase[] = [];
  afterAll(async () => {
    for (const database of databases) await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("copies everything, verifies it, and a server on PostgreSQL reads the same etags; a used target is refused; and back to a new SQLite file", async () => {
    const db = join(dir, "policy.db");
    const sqlite = await startTestServer({ db });
    const api = sqlite.grpc;
    await api.resources.createResource({ resource: { name: "organizations/o" } });
    for (let i = 0; i < 30; i++) {
      await api.resources.createResource({ resource: { name: `projects/p${i}`, parent: "organizations/o" } });
      await api.policies.setPolicy({ resource: `projects/p${i}`, policy: { bindings: [{ role: "roles/owner", members: [`user:u${i}@example.com`] }] } });
    }
    await api.resources.deleteResource({ name: "projects/p29" });
    // Deny policies, custom roles and the change feed's columns come along too.
    await api.denyPolicies.setDenyPolicy({
      resource: "organizations/o",
      denyPolicy: { rules: [{ deniedPrincipals: ["user:u1@example.com"], deniedPermissions: ["projects.delete"] }] },
    });
    await api.roles.createRole({ parent: "organizations/o", roleId: "deployer", role: { title: "Deployer", includedPermissions: ["projects.get"] } });
    // A shared policy and its binding (the reverse-lookup index comes along as the policies' bindings made it).
    await api.sharedPolicies.createSharedPolicy({
      parent: "organizations/o",
      sharedPolicyId: "baseline",
      sharedPolicy: { displayName: "Baseline", bindings: [{ role: "roles/readonly", members: ["user:sam@example.com"] }] },
    });
    // A sync consumer with a failure: its progress, its failure and the consumers' clock come along.
    await api.sync.createConsumer({ consumer: { name: "consumers/edge", subtree: "organizations/o" } });
    const latest = BigInt((await api.sync.getConsumer({ name: "consumers/edge" })).lagSequences);
    await api.sync.acknowledgeChanges({ consumer: "consumers/edge", sequence: latest, failures: [{ resource: "projects/p3", sequence: latest, message: "no" }] });
    const bindingBefore = await api.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: "sharedPolicies/baseline", target: "projects/p1" } });
    const sharedBefore = await api.sharedPolicies.getSharedPolicy({ name: "sharedPolicies/baseline" });
    const denyBefore = await api.denyPolicies.getDenyPolicy({ resource: "organizations/o" });
    const roleBefore = await api.roles.getRole({ name: "organizations/o/roles/deployer" });
    const page = await api.resources.listResources({ parent: "organizations/o", pageSize: 10 });
    const before = await Promise.all(["organizations/o", "projects/p0", "projects/p28"].map((resource) => api.policies.getPolicy({ resource })));
    const consumerBefore = await api.sync.getConsumer({ name: "consumers/edge" });
    await sqlite.close();

    const target = await createPostgresDatabase();
    databases.push(target);
    const copied = await migrateStore(db, target.url);
    expect(copied.output).toMatch(/counts and etags verified/);
    expect(copied.code).toBe(0);

    const pg = await startTestServer({ db: target.url });
    let onPostgres: Awaited<ReturnType<typeof readEstate>>;
    try {
      const after = await Promise.all(["organizations/o", "projects/p0", "projects/p28"].map((resource) => pg.grpc.policies.getPolicy({ resource })));
      expect(after.map((p) => p.etag)).toEqual(before.map((p) => p.etag));
      expect(await pg.grpc.denyPolicies.getDenyPolicy({ resource: "organizations/o" })).toEqual(denyBefore);
      expect(await pg.grpc.roles.getRole({ name: "organizations/o/roles/deployer" })).toEqual(roleBefore);
      expect(await pg.grpc.sharedPolicies.getSharedPolicy({ name: "sharedPolicies/baseline" })).toEqual(sharedBefore);
      const bindings = await pg.grpc.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: "sharedPolicies/baseline" });
      expect(bindings.bindings).toEqual([bindingBefore]);
      // What can, through the shared policy's binding: its reverse-lookup rows came along.
      const sam = await pg.grpc.access.lookupResources({ principals: ["user:sam@example.com"], permission: "projects.get", resourceType: "project" });
      expect(sam.resources.map((r) => r.resource)).toEqual(["projects/p1"]);
      const next = await pg.grpc.resources.listResources({ parent: "organizations/o", pageSize: 10, pageToken: page.nextPageToken });
      expect(next.resources).toHaveLength(10);
      expect(await pg.grpc.sync.getConsumer({ name: "consumers/edge" })).toEqual(consumerBefore);
      expect((await pg.grpc.sync.getSyncStatus({ resource: "projects/p3" })).consumers.map((c) => c.message)).toEqual(["no"]);
      await pg.grpc.sync.createConsumer({ consumer: { name: "consumers/after", subtree: "organizations/o" } });
      expect((await pg.grpc.sync.listConsumers({})).consumers.map((c) => c.name)).toEqual(["consumers/after", "consumers/edge"]);
      await pg.grpc.policies.setPolicy({ resource: "projects/p0", policy: { etag: before[1]!.etag, bindings: [] } });
      onPostgres = await readEstate(pg.grpc, page.nextPageToken);
    } finally {
      await pg.close();
    }

    const again = await migrateStore(db, target.url);
    expect(again.code).not.toBe(0);
    expect(again.output).toMatch(/already holds data/);

    // The way back, with the change made on PostgreSQL: every object, etag, consumer and page token as PostgreSQL had it.
    const back = join(dir, "back.db");
    const returned = await migrateStore(target.url, back);
    expect(returned.output).toMatch(/counts and etags verified/);
    expect(returned.code).toBe(0);
    const sqliteAgain = await startTestServer({ db: back });
    try {
      expect(await readEstate(sqliteAgain.grpc, page.nextPageToken)).toEqual(onPostgres);
      // Writes go on from the copied change log: the etag read is current, the sequences continue.
      const p0 = await sqliteAgain.grpc.policies.getPolicy({ resource: "projects/p0" });
      await sqliteAgain.grpc.policies.setPolicy({ resource: "projects/p0", policy: { etag: p0.etag, bindings: [{ role: "roles/owner", members: ["user:back@example.com"] }] } });
    } finally {
      await sqliteAgain.close();
    }
    const existing = await migrateStore(target.url, back);
    expect(existing.code).not.toBe(0);
    expect(existing.output).toMatch(/exists: give the path of a new SQLite file/);
  }, 120_000);
});
