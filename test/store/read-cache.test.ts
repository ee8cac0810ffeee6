// The store's cache of decoded policies: reads are served from it yet never stale — this store's writes evict what
// they change, and another connection's commits (another process on the same file) are found before the next read.
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const actor = { principal: "user:test@example.com" };
let dir: string;
let store: SqliteStore;
/** A second connection to the same file: its commits are what another process's would be. */
let other: SqliteStore;

const ORG = "organizations/acme";
const CLOUD = "clouds/c1";
const PROJECT = "projects/p1";

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "read-cache-"));
  store = new SqliteStore(join(dir, "policy.db"));
  other = new SqliteStore(join(dir, "policy.db"));
  await store.createResource({ name: ORG, parent: "", type: "organization", displayName: "" }, actor);
  await store.createResource({ name: "organizations/other", parent: "", type: "organization", displayName: "" }, actor);
  await store.createResource({ name: CLOUD, parent: ORG, type: "cloud", displayName: "" }, actor);
  await store.createResource({ name: PROJECT, parent: CLOUD, type: "project", displayName: "" }, actor);
});

afterEach(async () => {
  await other.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function grant(on: SqliteStore, resource: string, member: string) {
  return on.updatePolicy(
    resource,
    () => create(PolicySchema, { version: 1, bindings: [create(BindingSchema, { role: "roles/owner", members: [member] })] }),
    actor,
  );
}

const membersOf = (chain: Awaited<ReturnType<SqliteStore["ancestry"]>>) =>
  chain!.map((link) => [link.resource.name, link.policy.bindings.flatMap((b) => b.members)]);

describe("served from the cache", () => {
  test("a second read returns the same object, frozen: a caller cannot change what the next one reads", async () => {
    await grant(store, ORG, "user:ada@example.com");
    const first = await store.getPolicy(ORG);
    const second = await store.getPolicy(ORG);
    expect(second).toBe(first);
    expect(store.cacheUsage.entries).toBeGreaterThan(0);
    expect(() => (first!.policy.bindings[0]!.members as string[]).push("user:mallory@example.com")).toThrow(TypeError);
    expect(() => {
      first!.policy.version = 3;
    }).toThrow(TypeError);
    expect((await store.getPolicy(ORG))!.policy.bindings[0]!.members).toEqual(["user:ada@example.com"]);
  });

  test("ancestry of a cached chain is the same links; GetPolicy and ancestry share them", async () => {
    const chain = await store.ancestry(PROJECT);
    const again = await store.ancestry(PROJECT);
    expect(again).not.toBe(chain);
    again!.forEach((link, i) => expect(link).toBe(chain![i]));
    expect(await store.getPolicy(CLOUD)).toBe(chain![1]);
  });
});

describe("this store's own writes", () => {
  test("a policy write is read back at once, in GetPolicy and in every chain through it", async () => {
    await store.ancestry(PROJECT);
    const written = await grant(store, CLOUD, "user:ada@example.com");
    expect((await store.getPolicy(CLOUD))!.policy.etag).toEqual(written.etag);
    expect(membersOf(await store.ancestry(PROJECT))).toEqual([
      [PROJECT, []],
      [CLOUD, ["user:ada@example.com"]],
      [ORG, []],
    ]);
  });

  test("a move changes the chain of the moved resource and of its subtree", async () => {
    await grant(store, "organizations/other", "user:bob@example.com");
    await store.ancestry(PROJECT);
    await store.updateResource(CLOUD, { parent: "organizations/other" }, undefined, actor);
    expect(membersOf(await store.ancestry(PROJECT))).toEqual([
      [PROJECT, []],
      [CLOUD, []],
      ["organizations/other", ["user:bob@example.com"]],
    ]);
  });

  test("a deleted policy and a cascade-deleted subtree are gone from the cache", async () => {
    await grant(store, PROJECT, "user:ada@example.com");
    await store.ancestry(PROJECT);
    await store.updatePolicy(PROJECT, () => undefined, actor);
    expect((await store.getPolicy(PROJECT))!.policy.bindings).toEqual([]);
    await store.deleteResource(CLOUD, undefined, true, actor);
    expect(await store.getPolicy(PROJECT)).toBeUndefined();
    expect(await store.ancestry(PROJECT)).toBeUndefined();
    expect(await store.getPolicy(CLOUD)).toBeUndefined();
  });

  test("a write that fails leaves what is cached right", async () => {
    await grant(store, ORG, "user:ada@example.com");
    const before = await store.getPolicy(ORG);
    await expect(
      store.updatePolicy(ORG, () => {
        throw new Error("refused");
      }, actor),
    ).rejects.toThrow("refused");
    expect(await store.getPolicy(ORG)).toEqual(before);
  });
});

describe("another connection's writes", () => {
  test("a policy written elsewhere is seen by the next read, though the old one was cached", async () => {
    await grant(store, CLOUD, "user:ada@example.com");
    await store.getPolicy(CLOUD);
    await store.ancestry(PROJECT);
    const written = await grant(other, CLOUD, "user:bob@example.com");
    expect((await store.getPolicy(CLOUD))!.policy.etag).toEqual(written.etag);
    expect(membersOf(await store.ancestry(PROJECT))[1]).toEqual([CLOUD, ["user:bob@example.com"]]);
  });

  test("a move and a delete made elsewhere are seen by the next chain read", async () => {
    await store.ancestry(PROJECT);
    await other.updateResource(CLOUD, { parent: "organizations/other" }, undefined, actor);
    expect((await store.ancestry(PROJECT))!.map((l) => l.resource.name)).toEqual([PROJECT, CLOUD, "organizations/other"]);
    await other.deleteResource(PROJECT, undefined, false, actor);
    expect(await store.ancestry(PROJECT)).toBeUndefined();
  });

  test("latestSequence includes the other connection's writes; writtenSequence only this store's", async () => {
    const mine = store.writtenSequence;
    await grant(other, ORG, "user:ada@example.com");
    expect(store.writtenSequence).toBe(mine);
    expect(store.latestSequence()).toBe(other.writtenSequence);
    expect(store.latestSequence()).toBeGreaterThan(mine);
  });

  test("more changes than are worth reading one by one empty the cache, and reads stay right", async () => {
    await store.ancestry(PROJECT);
    for (let i = 0; i < 1100; i++) {
      await other.createResource({ name: `projects/bulk${i}`, parent: ORG, type: "project", displayName: "" }, actor);
    }
    await grant(other, ORG, "user:late@example.com");
    expect(membersOf(await store.ancestry(PROJECT))[2]).toEqual([ORG, ["user:late@example.com"]]);
    expect(store.latestSequence()).toBe(other.writtenSequence);
  });

  test("interleaved writers on both connections: each store always reads the last write", async () => {
    for (let i = 0; i < 20; i++) {
      const writer = i % 2 === 0 ? store : other;
      const written = await grant(writer, CLOUD, `user:u${i}@example.com`);
      for (const reader of [store, other]) {
        expect((await reader.getPolicy(CLOUD))!.policy.etag, `write ${i}`).toEqual(written.etag);
        expect(membersOf(await reader.ancestry(PROJECT))[1]).toEqual([CLOUD, [`user:u${i}@example.com`]]);
      }
    }
  });
});

test("a cache of 0 bytes holds nothing and reads still work", async () => {
  const uncached = new SqliteStore(join(dir, "policy.db"), 0);
  try {
    await grant(store, ORG, "user:ada@example.com");
    expect((await uncached.ancestry(PROJECT))!.length).toBe(3);
    expect(uncached.cacheUsage).toEqual({ entries: 0, bytes: 0 });
  } finally {
    await uncached.close();
  }
});
