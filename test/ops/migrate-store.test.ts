// `npm run migrate-store`: a store written through the server is copied, hop by hop, to every kind of store — SQLite
// to SQLite, SQLite to PostgreSQL, PostgreSQL to PostgreSQL and back to SQLite — and a server on each copy reads
// the same objects with the same etags, page tokens, audit history and consumers (their acknowledged sequence and
// failures), and a Watch resumed after a sequence of the original replays the same changes. A target that holds
// anything is refused; writes go on from the copied change log.
import { createGrpcTransport } from "@connectrpc/connect-node";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../helpers/child-server.js";
import { createPostgresDatabase, postgresAvailable, type PostgresDatabase } from "../helpers/postgres.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { follow, watchClients } from "../helpers/watch.js";

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

  /** The changes a Watch resumed after `after` replays (up to `count` of them), as a client sees them. */
  async function replay(server: TestServer, after: bigint, count: number) {
    const f = follow(watchClients(createGrpcTransport({ baseUrl: server.url })).watch, { afterSequence: after });
    try {
      await f.until((x) => x.changes().length >= count, 20_000);
    } finally {
      await f.stop();
    }
    return f.changes().slice(0, count);
  }

  test("copies any store to any store, verified; a server on each copy reads the same etags, history, consumers and Watch replay; a used target is refused", async () => {
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
    await api.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: "sharedPolicies/baseline", target: "projects/p1" } });
    const page = await api.resources.listResources({ parent: "organizations/o", pageSize: 10 });
    const estate = await readEstate(api, page.nextPageToken);
    // A Watch client resuming a little before the consumer's acknowledged sequence: the changes it replays.
    const acknowledged = (await api.sync.getConsumer({ name: "consumers/edge" })).acknowledgedSequence;
    expect(acknowledged).toBe(latest);
    const resumeAfter = acknowledged - 3n;
    const replayed = await replay(sqlite, resumeAfter, 4);
    await sqlite.close();

    // Every kind of hop, each from the previous copy: a server on each reads the original's estate.
    const [pg1, pg2] = [await createPostgresDatabase(), await createPostgresDatabase()];
    databases.push(pg1, pg2);
    const hops = [db, join(dir, "copy.db"), pg1.url, pg2.url, join(dir, "back.db")];
    for (let i = 1; i < hops.length; i++) {
      const copied = await migrateStore(hops[i - 1]!, hops[i]!);
      expect(copied.output).toMatch(/counts and etags verified/);
      expect(copied.code).toBe(0);
      const server = await startTestServer({ db: hops[i]! });
      try {
        expect(await readEstate(server.grpc, page.nextPageToken), `copy ${i}`).toEqual(estate);
        expect((await server.grpc.sync.getSyncStatus({ resource: "projects/p3" })).consumers.map((c) => c.message)).toEqual(["no"]);
        expect(await replay(server, resumeAfter, 4), `copy ${i}`).toEqual(replayed);
      } finally {
        await server.close();
      }
    }

    // A target that holds anything is refused: a used PostgreSQL database, an existing SQLite file.
    const again = await migrateStore(db, pg1.url);
    expect(again.code).not.toBe(0);
    expect(again.output).toMatch(/already holds data/);
    const existing = await migrateStore(pg2.url, join(dir, "back.db"));
    expect(existing.code).not.toBe(0);
    expect(existing.output).toMatch(/exists: give the path of a new SQLite file/);

    // Writes go on from the copied change log: the etag read is current, the sequences continue, new consumers too.
    const last = await startTestServer({ db: join(dir, "back.db") });
    try {
      const p0 = await last.grpc.policies.getPolicy({ resource: "projects/p0" });
      await last.grpc.policies.setPolicy({ resource: "projects/p0", policy: { etag: p0.etag, bindings: [{ role: "roles/owner", members: ["user:back@example.com"] }] } });
      const resumed = await replay(last, resumeAfter, 5);
      expect(resumed.slice(0, 4)).toEqual(replayed);
      expect(resumed[4]).toMatchObject({ sequence: replayed.at(-1)!.sequence + 1n, resource: "projects/p0" });
      await last.grpc.sync.createConsumer({ consumer: { name: "consumers/after", subtree: "organizations/o" } });
      expect((await last.grpc.sync.listConsumers({})).consumers.map((c) => c.name)).toEqual(["consumers/after", "consumers/edge"]);
    } finally {
      await last.close();
    }
  }, 240_000);
});
