// A connection checked out of the pool (the write queue's transaction, migrations under their advisory lock, the copy
// of migrate-store) whose PostgreSQL stops abruptly (`pg_ctl stop -m immediate`) while it waits: the work in flight
// fails as a store error, never as an unhandled 'error' event of the driver (which would end the process), and the
// store serves again once PostgreSQL is back. Each connection is made to wait on an advisory lock held by the test,
// so the stop is known to find it checked out. And a PostgreSQL that stops answering without closing anything (a
// hung server, a network partition): statements fail unavailable rather than wait for ever. A private cluster
// (test/helpers/private-postgres.ts).
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { StoreError } from "../../src/store/store-error.js";
import { copyStore } from "../../src/store/copy-store.js";
import { MIGRATION_LOCK, WRITE_LOCK } from "../../src/store/postgres/database.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import {
  advisoryLockWaiters,
  holdAdvisoryLock,
  privatePostgresAvailable,
  startPrivateCluster,
  type PrivateCluster,
} from "../helpers/private-postgres.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";
import { createResource } from "../../src/store/store.js";

const actor = { principal: "user:test@example.com" };
const org = (name: string) => ({ name: `organizations/${name}`, parent: "", type: "organization", displayName: "" });

describe.runIf(privatePostgresAvailable())("a checked-out PostgreSQL connection lost to an immediate stop", () => {
  let cluster: PrivateCluster;
  const closing: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    cluster = await startPrivateCluster();
  }, 120_000);
  afterAll(async () => {
    await cluster?.destroy();
  });
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close().catch(() => undefined);
  });

  async function holdLock(url: string, key: bigint): Promise<void> {
    const session = await holdAdvisoryLock(url, key);
    closing.push(() => session.end());
  }

  /** Stops PostgreSQL abruptly, expects `work` to fail as an unavailable store error, and starts PostgreSQL again. */
  async function loseConnection(url: string, work: Promise<unknown>, kind: "unavailable" | "any" = "unavailable"): Promise<void> {
    const failed = work.then(
      () => expect.fail("the work finished although PostgreSQL stopped under it"),
      (e: unknown) => e,
    );
    await advisoryLockWaiters(url);
    await cluster.stop("immediate");
    try {
      const error = await failed;
      if (kind === "unavailable") {
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).kind).toBe("unavailable");
      } else {
        expect(error).toBeInstanceOf(Error);
      }
    } finally {
      await cluster.start();
    }
  }

  test("a write waiting in its transaction fails unavailable; the store writes again after the restart", async () => {
    const url = await cluster.createDatabase();
    const store = await PostgresStore.open({ url, poolSize: 2, statementTimeoutMs: 30_000 });
    closing.push(() => store.close());
    await createResource(store, org("before"), actor);
    await holdLock(url, WRITE_LOCK);
    await loseConnection(url, createResource(store, org("lost"), actor));

    // The dead connections were dropped, not returned to the pool: the next write gets a working one.
    await createResource(store, org("after"), actor);
    expect((await store.getResource("organizations/before"))?.name).toBe("organizations/before");
    expect((await store.getResource("organizations/after"))?.name).toBe("organizations/after");
  });

  test("a replica waiting for the migration lock fails to open, unavailable; it opens after the restart", async () => {
    const url = await cluster.createDatabase();
    await holdLock(url, MIGRATION_LOCK);
    await loseConnection(url, PostgresStore.open({ url, poolSize: 2, statementTimeoutMs: 30_000 }));

    const store = await PostgresStore.open({ url, poolSize: 2, statementTimeoutMs: 30_000 });
    closing.push(() => store.close());
    await createResource(store, org("migrated"), actor);
  });

  test("migrate-store's copy waiting for the write lock fails unavailable; the copy succeeds after the restart", async () => {
    const dir = tempDir("policy-copy-");
    closing.push(async () => removeDir(dir));
    const source = new SqliteStore(join(dir, "policy.db"));
    closing.push(() => source.close());
    await createResource(source, org("copied"), actor);
    const url = await cluster.createDatabase();
    const target = await PostgresStore.open({ url, poolSize: 2, statementTimeoutMs: 30_000 });
    closing.push(() => target.close());
    await holdLock(url, WRITE_LOCK);
    await loseConnection(url, copyStore(source, target));

    expect((await copyStore(source, target)).counts.resource).toBe(1);
  });

  test("a PostgreSQL that stops answering (frozen): reads, writes and the health probe's read fail unavailable, then serve again", async () => {
    const url = await cluster.createDatabase();
    const store = await PostgresStore.open({ url, poolSize: 2, statementTimeoutMs: 1000 });
    closing.push(() => store.close());
    await createResource(store, org("before"), actor);
    await cluster.freeze();
    try {
      // On the idle connections the store holds, and on new ones (the pool's two are busy or dead by then).
      const calls = [store.getResource("organizations/before"), createResource(store, org("frozen"), actor), store.latestSequence()];
      const errors = await Promise.all(
        calls.map((call) =>
          call.then(
            () => expect.fail("answered by a frozen PostgreSQL"),
            (e: unknown) => e,
          ),
        ),
      );
      for (const error of errors) {
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).kind).toBe("unavailable");
      }
    } finally {
      await cluster.thaw();
    }
    await createResource(store, org("after"), actor);
    expect((await store.getResource("organizations/before"))?.name).toBe("organizations/before");
  });
});
