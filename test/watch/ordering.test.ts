// Ordering and resumption: many concurrent writers, a watcher that disconnects and resumes at random points; what it
// saw is compared with the change log: no gap, no duplicate, same order. Then the same across a restart and a kill -9
// of a server process, resuming against the server that comes back on the same database.
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { spawnServer } from "../helpers/child-server.js";
import { apiClients } from "../helpers/clients.js";
import { seededRandom } from "../helpers/seed.js";
import { startTestServer } from "../helpers/server.js";
import { ORG, follow, grantPolicy, makeTree, watchClients, type WatchClient } from "../helpers/watch.js";

/** Follows from `after` until `target`, disconnecting at random points and resuming after the last change seen. */
async function followWithDisconnects(client: () => WatchClient, after: number, target: () => number | undefined, seen: number[]) {
  const random = seededRandom(`ordering: disconnects after ${after}`);
  let position = after;
  for (;;) {
    const f = follow(client(), { afterSequence: BigInt(position) });
    const want = 1 + Math.floor(random() * 25);
    try {
      await f.until((x) => x.changes().length >= want || (target() !== undefined && position + x.changes().length >= target()!), 20_000);
    } catch {
      // a server that went away: resume against whatever serves next
    }
    await f.stop();
    for (const s of f.sequences()) seen.push(s);
    position = seen.at(-1) ?? position;
    const end = target();
    if (end !== undefined && position >= end) return;
  }
}

function logSequences(db: string, after: number): Promise<number[]> {
  const store = new SqliteStore(db);
  return store.readChanges({ afterSeq: after, limit: 100_000 }).then(async (rows) => (await store.close(), rows.map((r) => r.seq)));
}

test("concurrent writers, a watcher resuming at random points: exactly the change log, in order", async () => {
  const server = await startTestServer();
  try {
    await makeTree(server.connect);
    const start = Number((await server.connect.policies.deletePolicy({ resource: ORG })).sequence);
    const { watch } = watchClients(createGrpcTransport({ baseUrl: server.url }));
    let done: number | undefined;
    const seen: number[] = [];
    const watching = followWithDisconnects(() => watch, start, () => done, seen);
    const writers = Array.from({ length: 8 }, async (_, w) => {
      const clients = apiClients(server.url, { protocol: w % 2 ? "grpc" : "connect" });
      for (let i = 0; i < 40; i++) {
        const name = `projects/w${w}i${i}`;
        await clients.resources.createResource({ resource: { name, parent: ORG } });
        await clients.policies.setPolicy({ resource: name, policy: grantPolicy(`user:u${i}@example.com`) });
      }
    });
    await Promise.all(writers);
    done = Number((await server.connect.policies.deletePolicy({ resource: ORG })).sequence);
    await watching;
    const log = await logSequences(server.db, start);
    expect(log.length).toBe(8 * 40 * 2 + 1);
    expect(seen).toEqual(log);
  } finally {
    await server.stop();
  }
}, 120_000);

test("across a graceful restart and a kill -9 the watcher resumes with no gap and no duplicate", async () => {
  const dir = mkdtempSync(join(tmpdir(), "watch-restart-"));
  const db = join(dir, "policy.db");
  let child = await spawnServer(db, ["--log-level", "silent"]);
  try {
    const admin = () => apiClients(child.url, { protocol: "connect" });
    await makeTree(admin());
    const start = Number((await admin().policies.deletePolicy({ resource: ORG })).sequence);
    let done: number | undefined;
    const seen: number[] = [];
    const watching = followWithDisconnects(
      () => watchClients(createConnectTransport({ baseUrl: child.url, httpVersion: "1.1" })).watch,
      start,
      () => done,
      seen,
    );
    const writeSome = async (prefix: string) => {
      for (let i = 0; i < 20; i++) {
        await admin().resources.createResource({ resource: { name: `projects/${prefix}${i}`, parent: ORG } });
      }
    };
    await writeSome("a");
    await child.stop("SIGTERM");
    child = await spawnServer(db, ["--log-level", "silent"]);
    await writeSome("b");
    await child.stop("SIGKILL");
    child = await spawnServer(db, ["--log-level", "silent"]);
    await writeSome("c");
    done = Number((await admin().policies.deletePolicy({ resource: ORG })).sequence);
    await watching;
    const log = await logSequences(db, start);
    expect(log.length).toBe(61);
    expect(seen).toEqual(log);
  } finally {
    await child.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
