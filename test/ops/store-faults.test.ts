// Database faults (issue 13, item 8): a full disk is RESOURCE_EXHAUSTED and lock contention UNAVAILABLE, each with a
// message to act on and a metric; shutdown on a full disk exits cleanly; a damaged or unopenable database refuses to
// start, naming the file and the cause.
import { Code } from "@connectrpc/connect";
import Sqlite from "better-sqlite3";
import { copyFileSync, mkdirSync, openSync, rmSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test, vi } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { capturingLogger } from "../helpers/secure-server.js";
import { expectCode, scrape, sum, tempDir, uniqueId } from "./support.js";

let server: TestServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.stop();
  server = undefined;
});

/** Starts a server and returns it with its own SQLite connection (captured as it is opened). */
async function serverWithConnection(): Promise<{ server: TestServer; db: Sqlite.Database }> {
  let db: Sqlite.Database | undefined;
  const pragma = Sqlite.prototype.pragma;
  vi.spyOn(Sqlite.prototype, "pragma").mockImplementation(function (this: Sqlite.Database, ...args) {
    db ??= this;
    return pragma.apply(this, args);
  });
  const started = await startTestServer();
  vi.restoreAllMocks();
  return { server: started, db: db! };
}

test("a full disk is RESOURCE_EXHAUSTED with a message to act on, counted on /metrics", async () => {
  const started = await serverWithConnection();
  server = started.server;
  const org = `organizations/${uniqueId("full")}`;
  await server.grpc.resources.createResource({ resource: { name: org } });
  // SQLite's own quota: the database may not grow past the pages it has now, as on a full disk.
  started.db.pragma(`max_page_count = ${started.db.pragma("page_count", { simple: true }) as number}`);
  let error;
  for (let i = 0; i < 500 && !error; i++) {
    try {
      await server.grpc.resources.createResource({
        resource: { name: `projects/${uniqueId("fill")}`, parent: org, displayName: "x".repeat(60) },
      });
    } catch (e) {
      error = e;
    }
  }
  const refused = await expectCode(Promise.reject(error), Code.ResourceExhausted, /out of disk space/);
  expect(refused.rawMessage).not.toMatch(/SQLITE|\/tmp/);
  // Reads still work.
  expect((await server.grpc.resources.getResource({ name: org })).name).toBe(org);
  const { exposition } = await scrape(server.url);
  expect(sum(exposition, "policy_store_failures_total", { kind: "exhausted" })).toBeGreaterThanOrEqual(1);
});

test("a database locked by another connection is UNAVAILABLE, counted on /metrics", { timeout: 30_000 }, async () => {
  server = await startTestServer();
  const other = new Sqlite(server.db);
  try {
    other.exec("BEGIN IMMEDIATE");
    await expectCode(server.grpc.resources.createResource({ resource: { name: `organizations/${uniqueId("busy")}` } }), Code.Unavailable, /retry/);
    other.exec("ROLLBACK");
  } finally {
    other.close();
  }
  const { exposition } = await scrape(server.url);
  expect(sum(exposition, "policy_store_failures_total", { kind: "unavailable" })).toBeGreaterThanOrEqual(1);
  // And it recovers by itself.
  await server.grpc.resources.createResource({ resource: { name: `organizations/${uniqueId("after")}` } });
});

test("shutdown on a full disk (the WAL checkpoint fails) closes cleanly", async () => {
  const started = await serverWithConnection();
  const pragma = started.db.pragma.bind(started.db);
  vi.spyOn(started.db, "pragma").mockImplementation((source, options) => {
    if (source.startsWith("wal_checkpoint")) throw new Sqlite.SqliteError("database or disk is full", "SQLITE_FULL");
    return pragma(source, options);
  });
  await started.server.grpc.resources.createResource({ resource: { name: `organizations/${uniqueId("bye")}` } });
  await expect(started.server.close()).resolves.toBeUndefined();
  expect(started.db.open).toBe(false);
  rmSync(started.server.dir, { recursive: true, force: true });
});

test("a database with a damaged page refuses to start, naming the file and what to do", async () => {
  const dir = tempDir();
  try {
    const seeded = await startTestServer({ db: join(dir, "seed.db") });
    const org = `organizations/${uniqueId("dmg")}`;
    await seeded.grpc.resources.createResource({ resource: { name: org } });
    for (let i = 0; i < 60; i++) {
      await seeded.grpc.resources.createResource({ resource: { name: `projects/${uniqueId("p")}`, parent: org, displayName: "y".repeat(200) } });
    }
    await seeded.close();
    const damaged = join(dir, "damaged.db");
    copyFileSync(join(dir, "seed.db"), damaged);
    const fd = openSync(damaged, "r+");
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096 * 3); // page 4: garbage
    closeSync(fd);
    await expect(startTestServer({ db: damaged })).rejects.toThrow(new RegExp(`${damaged}.*damaged.*backup`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a stored policy that does not decode: ListPolicies lists the others and names it as unreachable, and the server logs it", async () => {
  const dir = tempDir();
  const db = join(dir, "policy.db");
  const seeded = await startTestServer({ db });
  const org = `organizations/${uniqueId("undecodable")}`;
  const projects = [1, 2, 3].map((i) => `projects/${uniqueId(`p${i}`)}`);
  await seeded.grpc.resources.createResource({ resource: { name: org } });
  for (const project of projects) {
    await seeded.grpc.resources.createResource({ resource: { name: project, parent: org } });
    await seeded.grpc.policies.setPolicy({ resource: project, policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] } });
  }
  await seeded.close();
  const raw = new Sqlite(db);
  raw.prepare("UPDATE documents SET body = ? WHERE kind = 'policy' AND key = '' AND resource_id = (SELECT id FROM resources WHERE name = ?)").run(Uint8Array.of(0x1a, 0x05, 0x01), projects[1]);
  raw.close();

  const { logger, lines } = capturingLogger();
  server = await startTestServer({ db }, { dir, logger });
  const listed = await server.grpc.policies.listPolicies({ resourceType: "project", parent: org });
  expect(listed.resourcePolicies.map((p) => p.resource)).toEqual([projects[0], projects[2]]);
  expect(listed.unreachable).toEqual([projects[1]]);
  expect(listed.nextPageToken).toBe("");
  // In pages of one: each page full, the damaged one named once, on the page whose range holds it.
  const first = await server.connect.policies.listPolicies({ resourceType: "project", parent: org, pageSize: 1 });
  expect([first.resourcePolicies.map((p) => p.resource), first.unreachable]).toEqual([[projects[0]], []]);
  const second = await server.connect.policies.listPolicies({ resourceType: "project", parent: org, pageSize: 1, pageToken: first.nextPageToken });
  expect([second.resourcePolicies.map((p) => p.resource), second.unreachable, second.nextPageToken]).toEqual([[projects[2]], [projects[1]], ""]);
  expect(lines.find((line) => line.resource === projects[1] && String(line.msg).includes("does not decode"))).toMatchObject({ level: 50 });
  // Reading it alone still fails, without detail.
  await expectCode(server.grpc.policies.getPolicy({ resource: projects[1] }), Code.Internal, /the server log has the details/);
});

test("a database that cannot be opened names the file and the cause", async () => {
  const dir = tempDir();
  try {
    const folder = join(dir, "policy.db");
    mkdirSync(folder); // a directory where the file should be
    await expect(startTestServer({ db: folder })).rejects.toThrow(new RegExp(`${folder}.*directory`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
