// `npm run backup`: a consistent copy of the live database, taken while the server runs (and writes), that a new
// server opens with the same resources and policies. An existing --out is never overwritten.
import Sqlite from "better-sqlite3";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { apiClients, run, uniqueId } from "./support.js";

let server: TestServer;
let dir: string;
let db: string;
beforeAll(async () => {
  server = await startTestServer();
  ({ dir, db } = server);
});
afterAll(async () => {
  await server?.stop();
});

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

function backup(out: string) {
  return run(NPM, ["run", "--silent", "backup", "--", "--db", db, "--out", out]);
}

function openCopy(file: string): Promise<TestServer> {
  return startTestServer({ db: file });
}

function integrity(file: string): string {
  const copy = new Sqlite(file, { readonly: true, fileMustExist: true });
  try {
    return copy.pragma("integrity_check", { simple: true }) as string;
  } finally {
    copy.close();
  }
}

test("a backup of a running server opens in a new server with the same resources and policies", { timeout: 60_000 }, async () => {
  const live = apiClients(server.url);
  const org = `organizations/${uniqueId("bk")}`;
  const cloud = `clouds/${uniqueId("bkc")}`;
  const projects = [0, 1, 2].map(() => `projects/${uniqueId("bkp")}`);
  await live.resources.createResource({ resource: { name: org, displayName: "Backed up" } });
  await live.resources.createResource({ resource: { name: cloud, parent: org } });
  for (const p of projects) await live.resources.createResource({ resource: { name: p, parent: cloud } });
  await live.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] } });
  await live.policies.setPolicy({
    resource: projects[1]!,
    policy: {
      version: 3,
      bindings: [
        { role: "roles/readonly", members: ["group:auditors"] },
        { role: "roles/collaborator", members: ["user:bob@example.com"], condition: { title: "weekdays", expression: "request.time.getDayOfWeek() < 5" } },
      ],
    },
  });

  const out = join(dir, `backup-${uniqueId()}.db`);
  const result = await backup(out);
  expect(result.code, result.stderr).toBe(0);
  expect(existsSync(out)).toBe(true);
  expect(integrity(out)).toBe("ok");

  // The live server goes on serving (and writing) after the backup.
  await live.policies.setPolicy({ resource: cloud, policy: { bindings: [{ role: "roles/readonly", members: ["allUsers"] }] } });

  const copy = await openCopy(out);
  try {
    const restored = apiClients(copy.url);
    for (const name of [org, cloud, ...projects]) {
      const [a, b] = await Promise.all([live.resources.getResource({ name }), restored.resources.getResource({ name })]);
      expect(b).toEqual(a);
    }
    for (const name of [org, ...projects]) {
      const [a, b] = await Promise.all([
        live.policies.getPolicy({ resource: name, options: { requestedPolicyVersion: 3 } }),
        restored.policies.getPolicy({ resource: name, options: { requestedPolicyVersion: 3 } }),
      ]);
      expect(b).toEqual(a);
    }
    // The write made after the backup is not in it.
    expect((await restored.policies.getPolicy({ resource: cloud })).bindings).toEqual([]);
    const listed = await restored.resources.listResources({ parent: cloud, pageSize: 100 });
    expect(listed.resources.map((r) => r.name).sort()).toEqual([...projects].sort());
    // And the copy is a working database.
    const access = await restored.access.checkAccess({ resource: projects[0]!, principals: ["user:ada@example.com"], permissions: ["projects.delete"] });
    expect(access.grantedPermissions).toEqual(["projects.delete"]);
  } finally {
    await copy.stop();
  }
});

test("a backup taken during a stream of writes is consistent", { timeout: 60_000 }, async () => {
  const live = apiClients(`http://${server.grpcAddress}`);
  const org = `organizations/${uniqueId("bkw")}`;
  await live.resources.createResource({ resource: { name: org } });
  const etags = new Set<string>([Buffer.from((await live.policies.getPolicy({ resource: org })).etag).toString("base64")]);
  let writing = true;
  const writes = (async () => {
    for (let i = 0; i < 200 && writing; i++) {
      const policy = await live.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: [`user:w${i}@example.com`] }] } });
      etags.add(Buffer.from(policy.etag).toString("base64"));
      await live.resources.createResource({ resource: { name: `clouds/${uniqueId("bkwc")}`, parent: org } });
    }
  })();
  const out = join(dir, `backup-${uniqueId()}.db`);
  const result = await backup(out);
  writing = false;
  await writes;
  expect(result.code, result.stderr).toBe(0);
  expect(integrity(out)).toBe("ok");

  const copy = await openCopy(out);
  try {
    const restored = apiClients(copy.url);
    const policy = await restored.policies.getPolicy({ resource: org });
    // The copy holds one of the versions the live server acknowledged (or the empty one before them).
    expect(etags).toContain(Buffer.from(policy.etag).toString("base64"));
  } finally {
    await copy.stop();
  }
});

test("refuses to overwrite an existing --out, and needs --out", async () => {
  const out = join(dir, "existing.db");
  writeFileSync(out, "keep me");
  const result = await backup(out);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/exists/);
  expect(readFileSync(out, "utf8")).toBe("keep me");

  const missing = await run(NPM, ["run", "--silent", "backup", "--", "--db", db]);
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toMatch(/--out/);
});

test("creates the folder of --out, and answers --help", async () => {
  const out = join(dir, "backups/2025/01/policy.db");
  const result = await backup(out);
  expect(result.code, result.stderr).toBe(0);
  expect(existsSync(out)).toBe(true);

  const help = await run(NPM, ["run", "--silent", "backup", "--", "--help"]);
  expect(help).toMatchObject({ code: 0, stderr: "" });
  expect(help.stdout).toMatch(/^usage: npm run backup -- .*--out/);
});
