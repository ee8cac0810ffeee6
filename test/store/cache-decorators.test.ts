// The read cache's decorators one by one (src/store/cache/): freshness alone decides what is stale and tells every
// memo; a memo keeps what it read until told, and nothing an eviction overtook. The cache as a whole runs the
// conformance suite (sqlite.test.ts, postgres.test.ts: "+ cache").
import { afterEach, expect, test } from "vitest";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { Freshness } from "../../src/store/cache/freshness.js";
import { ForwardingStore } from "../../src/store/forwarding-store.js";
import { ListMemo } from "../../src/store/cache/list-memo.js";
import { PolicyMemo } from "../../src/store/cache/policy-memo.js";
import type { Evictable } from "../../src/store/cache/evictable.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { ListedPolicy, Store } from "../../src/store/store.js";
import { counted } from "../helpers/counted-store.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

const actor = { principal: "user:test@example.com" };
const ORG = "organizations/acme";
const PROJECT = "projects/p1";
const owners = (member: string) => create(PolicySchema, { bindings: [{ role: "roles/owner", members: [member] }] });

const opened: Store[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  removeDir(dir);
  dir = undefined;
});

function sqlite(path = ":memory:"): SqliteStore {
  const store = new SqliteStore(path);
  opened.push(store);
  return store;
}

/** A memo that records what it is told. */
function recording(): Evictable & { evicted: string[] } {
  const evicted: string[] = [];
  return { evicted, evict: (name) => void evicted.push(name), evictAll: () => void evicted.push("*") };
}

const nextTurn = () => new Promise<void>((done) => setImmediate(done));

async function tree(store: Store): Promise<void> {
  await store.createResources(
    [
      { resource: { name: ORG, parent: "", type: "organization", displayName: "" } },
      { resource: { name: PROJECT, parent: ORG, type: "project", displayName: "" } },
    ],
    actor,
  );
}

test("freshness tells every memo what a write changed once it settles, committed or failed", async () => {
  const memos = [recording(), recording()];
  const store = new Freshness(sqlite(), memos);
  await tree(store);
  for (const memo of memos) expect(memo.evicted).toEqual([ORG, PROJECT]);

  await store.updatePolicy(PROJECT, () => owners("user:a@example.com"), actor);
  await expect(store.updatePolicy("projects/missing", () => owners("user:a@example.com"), actor)).rejects.toThrow();
  await store.deleteResource(ORG, () => ({ cascade: true }), actor);
  for (const memo of memos) {
    expect(memo.evicted.slice(2, 4)).toEqual([PROJECT, "projects/missing"]);
    // The cascade's every resource, then the name deleted.
    expect(memo.evicted.slice(4).sort()).toEqual([ORG, ORG, PROJECT].sort());
  }
});

test("every write of the contract that may change a cached entry is one freshness evicts after", () => {
  const writes = Object.getOwnPropertyNames(ForwardingStore.prototype).filter((name) => /^(create|update|delete|write|prune)/.test(name));
  // Consumers and old change-log rows: no memo holds them.
  const holdsNothingCached = new Set(["writeConsumer", "pruneChanges"]);
  const evicting = new Set(Object.getOwnPropertyNames(Freshness.prototype));
  expect(writes.length).toBeGreaterThan(4);
  expect(writes.filter((name) => !holdsNothingCached.has(name) && !evicting.has(name))).toEqual([]);
});

test("one look serves a turn's reads; the next turn's look evicts what another instance committed", async () => {
  dir = tempDir();
  const path = join(dir, "policy.db");
  const other = sqlite(path);
  await tree(other);
  const { store: inner, calls } = counted(sqlite(path));
  const memo = recording();
  const store = new Freshness(inner, [memo]);

  await nextTurn();
  await Promise.all([store.getPolicy(PROJECT), store.ancestry(PROJECT), store.listPolicies({ type: "project", limit: 10 })]);
  await store.getPolicy(ORG); // after an await, still this turn
  expect(calls.get("changesSince")).toBe(1);

  await other.updatePolicy(PROJECT, () => owners("user:b@example.com"), actor);
  await nextTurn();
  expect(memo.evicted).toEqual([]);
  const read = await store.getPolicy(PROJECT);
  expect(calls.get("changesSince")).toBe(2);
  expect(memo.evicted).toEqual([PROJECT]);
  expect(read?.policy.bindings[0]?.members).toEqual(["user:b@example.com"]);
});

test("a look that finishes after its turn does not spare the next turn its own look", async () => {
  const { store: inner, calls } = counted(sqlite());
  await tree(inner);
  let release!: () => void;
  const gate = new Promise<void>((done) => (release = done));
  // The first look is slow (a database round trip that outlasts its turn); later ones answer at once.
  const slow = new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== "changesSince") return Reflect.get(target, property, receiver) as unknown;
      return async (afterSeq: number, limit: number) => {
        if (calls.get("changesSince") === undefined) await gate;
        return target.changesSince(afterSeq, limit);
      };
    },
  });
  const store = new Freshness(slow, [recording()]);

  await nextTurn();
  const first = store.getPolicy(PROJECT);
  await nextTurn(); // the first look's turn ends while it is still under way
  release();
  await first;
  expect(calls.get("changesSince")).toBe(1);
  await store.getPolicy(PROJECT); // this turn has not looked yet
  expect(calls.get("changesSince")).toBe(2);
});

test("the policy memo keeps a read until told, and nothing read across an eviction", async () => {
  const { store: inner, calls } = counted(sqlite());
  await tree(inner);
  const memo = new PolicyMemo(inner, 1024 * 1024);

  const pending = memo.getPolicy(PROJECT);
  memo.evict(PROJECT); // while the read is under way: what it returns may predate the change
  await pending;
  await memo.getPolicy(PROJECT);
  expect(calls.get("getPolicy")).toBe(2);
  const kept = await memo.getPolicy(PROJECT);
  expect(calls.get("getPolicy")).toBe(2);
  expect(await memo.ancestry(PROJECT)).toHaveLength(2);
  expect((await memo.ancestry(PROJECT))![0]).toBe(kept); // one shared entry for both reads

  memo.evict(ORG);
  await memo.ancestry(PROJECT);
  expect(calls.get("ancestry")).toBe(2); // the chain's link of ORG was gone: read again
});

test("the list memo keeps a page until any eviction, made of the policy memo's entries", async () => {
  const { store: inner, calls } = counted(sqlite());
  await tree(inner);
  await inner.updatePolicy(PROJECT, () => owners("user:a@example.com"), actor);
  const policies = new PolicyMemo(inner, 1024 * 1024);
  const lists = new ListMemo(policies, policies);
  const query = { type: "project", limit: 10 };

  const page = await lists.listPolicies(query);
  expect(page.map((row) => row.resource?.name)).toEqual([PROJECT]);
  expect(await lists.listPolicies(query)).toBe(page);
  expect(calls.get("listPolicies")).toBe(1);
  expect((page[0] as ListedPolicy).policy).toBe((await policies.getPolicy(PROJECT))!.policy);

  const memo: Evictable = lists;
  memo.evict(ORG); // any name: a change may add, drop or reorder rows of any page
  expect(await lists.listPolicies(query)).not.toBe(page);
  expect(calls.get("listPolicies")).toBe(2);
});
