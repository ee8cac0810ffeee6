// Durability: every write the server acknowledged survives SIGKILL of the server process — also of one of two
// processes on one database while both take writes (two replicas in the "postgres" project, two processes on one file
// on SQLite), and the other serves on.
import { afterEach, beforeEach, expect, test } from "vitest";
import { spawnServer, type ChildServer } from "../helpers/child-server.js";
import { apiClients } from "../helpers/clients.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";
import { testDatabase } from "../helpers/postgres.js";
import { waitFor } from "../helpers/wait.js";

const WRITES = 50;
const ORG = "organizations/durable";

let dir: string;
let running: ChildServer[] = [];

beforeEach(() => {
  dir = tempDir("policy-crash-");
  running = [];
});
afterEach(async () => {
  for (const child of running) await child.stop("SIGKILL");
  removeDir(dir);
  for (const drop of drops.splice(0)) await drop();
});

const drops: (() => Promise<void>)[] = [];

/** A SQLite file in the test's folder, or a new PostgreSQL database under POLICY_TEST_DB=postgres. */
async function freshDatabase(): Promise<string> {
  const database = await testDatabase(dir);
  drops.push(database.drop);
  return database.db;
}

async function start(db: string): Promise<ChildServer> {
  const child = await spawnServer(db);
  running.push(child);
  return child;
}

function clients(url: string) {
  // A fresh transport per server: the old connection dies with the killed process.
  return apiClients(url);
}

test(`${WRITES} acknowledged resource creations and ${WRITES} policy writes survive SIGKILL`, async () => {
  const db = await freshDatabase();
  const first = await start(db);
  const api = clients(first.url);

  await api.resources.createResource({ resource: { name: ORG } });
  const projects: string[] = [];
  let lastEtag: Uint8Array = new Uint8Array();
  for (let i = 0; i < WRITES; i++) {
    const project = `projects/p${i}`;
    await api.resources.createResource({ resource: { name: project, parent: ORG } });
    projects.push(project);
    const current = await api.policies.getPolicy({ resource: ORG });
    const members = current.bindings[0]?.members ?? [];
    const set = await api.policies.setPolicy({
      resource: ORG,
      policy: { etag: current.etag, bindings: [{ role: "roles/owner", members: [...members, `user:u${i}@example.com`] }] },
    });
    lastEtag = set.etag;
  }

  expect(await first.stop("SIGKILL")).toBe("SIGKILL");

  const second = await start(db);
  const after = clients(second.url);
  const listed = await after.resources.listResources({ parent: ORG, pageSize: 1000 });
  expect(listed.resources.map((r) => r.name).sort()).toEqual([...projects].sort());
  const policy = await after.policies.getPolicy({ resource: ORG });
  expect(policy.etag).toEqual(lastEtag);
  expect([...policy.bindings[0]!.members].sort()).toEqual(
    Array.from({ length: WRITES }, (_, i) => `user:u${i}@example.com`).sort(),
  );
}, 120_000);

test("a write acknowledged right before SIGKILL is there after restart, with a working etag", async () => {
  const db = await freshDatabase();
  const first = await start(db);
  const api = clients(first.url);
  await api.resources.createResource({ resource: { name: ORG } });
  const set = await api.policies.setPolicy({ resource: ORG, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } });
  await first.stop("SIGKILL");

  const second = await start(db);
  const after = clients(second.url);
  const next = await after.policies.setPolicy({
    resource: ORG,
    policy: { etag: set.etag, bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
  });
  expect(next.etag).not.toEqual(set.etag);
}, 120_000);

test("SIGTERM shuts the server down cleanly and a restart sees every write", async () => {
  const db = await freshDatabase();
  const first = await start(db);
  await clients(first.url).resources.createResource({ resource: { name: ORG } });
  expect(await first.stop("SIGTERM")).toBe(0);

  const second = await start(db);
  expect((await clients(second.url).resources.getResource({ name: ORG })).name).toBe(ORG);
}, 120_000);

test("SIGKILL of one of two server processes on one database, under writes to both: no acknowledged write is lost, the other serves on", async () => {
  const db = await freshDatabase();
  const victim = await start(db);
  const survivor = await start(db);
  const apis = [clients(victim.url), clients(survivor.url)];
  await apis[0]!.resources.createResource({ resource: { name: ORG } });

  // Two writers per process, each creating resources and setting their policies without pause; every write
  // acknowledged is remembered with its etag.
  const acknowledged = new Map<string, Uint8Array | undefined>();
  const acks = [0, 0];
  const failures = [0, 0];
  let writing = true;
  const writers = apis.flatMap((api, p) =>
    [0, 1].map(async (w) => {
      for (let n = 0; writing; n++) {
        const name = `projects/k${p}_${w}_${n}`;
        try {
          await api.resources.createResource({ resource: { name, parent: ORG } });
          acknowledged.set(name, undefined);
          const set = await api.policies.setPolicy({ resource: name, policy: { bindings: [{ role: "roles/owner", members: [`user:w${w}n${n}@example.com`] }] } });
          acknowledged.set(name, set.etag);
          acks[p]!++;
        } catch {
          // Only the killed process's calls fail (its connection is gone); it is not written to again.
          failures[p]!++;
          if (p === 0) return;
        }
      }
    }),
  );
  const ackedBy = async (p: number, count: number) => {
    await waitFor(() => acks[p]! >= count, `${count} acknowledged writes through process ${p}`);
  };
  await ackedBy(0, 10);
  expect(await victim.stop("SIGKILL")).toBe("SIGKILL");
  // The other process keeps acknowledging writes after the kill.
  await ackedBy(1, acks[1]! + 10);
  writing = false;
  await Promise.all(writers);
  expect(failures[1]).toBe(0);

  const restarted = await start(db);
  for (const api of [apis[1]!, clients(restarted.url)]) {
    const stored = await storedUnder(api, ORG);
    for (const [name, etag] of acknowledged) {
      expect(stored.has(name), name).toBe(true);
      if (etag) expect(stored.get(name), name).toBe(Buffer.from(etag).toString("hex"));
    }
  }
}, 120_000);

/** Every resource under `parent`, with its policy's etag (hex) when it has a policy (a page at a time). */
async function storedUnder(api: ReturnType<typeof clients>, parent: string): Promise<Map<string, string | undefined>> {
  const stored = new Map<string, string | undefined>();
  let pageToken = "";
  do {
    const page = await api.resources.listResources({ parent, pageSize: 1000, pageToken });
    for (const resource of page.resources) stored.set(resource.name, undefined);
    pageToken = page.nextPageToken;
  } while (pageToken);
  do {
    const page = await api.policies.listPolicies({ parent, resourceType: "project", pageSize: 1000, pageToken });
    for (const listed of page.resourcePolicies) stored.set(listed.resource, Buffer.from(listed.policy!.etag).toString("hex"));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return stored;
}
