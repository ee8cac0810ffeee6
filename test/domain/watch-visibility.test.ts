// Who receives which change-log row (domain/watch-visibility.ts), over a real SQLite store behind the read cache, as
// the server runs it: removals through removed ancestors, legacy rows, the binding's halves, and what it costs.
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, expect, test } from "vitest";
import { DenyPolicySchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { CHANGE_VISIBILITY, WatchVisibility } from "../../src/domain/watch-visibility.js";
import { cachingStore } from "../../src/store/caching-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { ChangeAction, ChangeRecord, Store } from "../../src/store/store.js";
import { binding, defaultSchema, policy } from "../helpers/fixtures.js";
import { updateBinding, updateDenyPolicy, updateSharedPolicy } from "../../src/domain/kinds.js";
import { createResource } from "../../src/store/store.js";
import { counted } from "../helpers/counted-store.js";
import { waitFor } from "../helpers/wait.js";

const actor = { principal: "user:root@example.com" };
const ORG = "organizations/o";
const CLOUD = "clouds/c";
const PROJECT = "projects/p";
const caller = (email: string): Caller => ({ principal: `user:${email}`, identities: [`user:${email}`] });

let inner: SqliteStore;
let store: Store;
/** Calls of the inner store's methods, by name. */
let calls: Map<string, number>;

beforeEach(async () => {
  inner = new SqliteStore(":memory:");
  const below = counted(inner);
  calls = below.calls;
  store = cachingStore(below.store);
  await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "" }, actor);
  await createResource(store, { name: CLOUD, parent: ORG, type: "cloud", displayName: "" }, actor);
  await createResource(store, { name: PROJECT, parent: CLOUD, type: "project", displayName: "" }, actor);
});

afterEach(async () => {
  await store.close();
});

function visibility(): WatchVisibility {
  const access = new Access(store, defaultSchema);
  return new WatchVisibility(store, access, new Authorizer(access, defaultSchema, new Set([actor.principal]), true));
}

const owners = (...emails: string[]) => policy({ bindings: [binding("roles/owner", emails.map((e) => `user:${e}`))] });
const denying = (email: string, permission: string) =>
  create(DenyPolicySchema, { rules: [{ deniedPrincipals: [`user:${email}`], deniedPermissions: [permission] }] });

async function rowsAfter(seq: number): Promise<ChangeRecord[]> {
  return store.readChanges({ afterSeq: seq, limit: 1000 });
}

/** For each caller, the actions and resources of the rows it receives. */
async function received(rows: readonly ChangeRecord[], ...emails: string[]): Promise<Record<string, string[]>> {
  const judge = visibility();
  const seen: Record<string, string[]> = {};
  for (const email of emails) {
    seen[email] = [];
    for (const row of rows) if (await judge.visible(row, caller(email))) seen[email].push(`${row.action} ${row.resource}`);
  }
  return seen;
}

test("a cascade delete reaches the owners of the surviving ancestor, except those a removed resource's deny rules refused", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com", "ben@example.com", "cat@example.com"), actor);
  await updateDenyPolicy(store, CLOUD, () => denying("ben@example.com", "projects.getPolicy"), actor);
  const guardrail = create(SharedPolicySchema, { parent: ORG, denyRules: denying("cat@example.com", "projects.getPolicy").rules });
  await updateSharedPolicy(store, "sharedPolicies/g", () => ({ policy: guardrail, type: "shared_policy" }), actor);
  await updateBinding(store, "sharedPolicies/g", PROJECT, () => true, actor);
  const from = await store.latestSequence();
  await store.deleteResource(CLOUD, () => ({ cascade: true }), actor);
  expect(await received(await rowsAfter(from), "ann@example.com", "ben@example.com", "cat@example.com", "dan@example.com")).toEqual({
    "ann@example.com": [`resource.delete ${PROJECT}`, `resource.delete ${CLOUD}`],
    // The cloud's rule refused Ben the project's policy (through the removed cloud), not the cloud's own.
    "ben@example.com": [`resource.delete ${CLOUD}`],
    // The guardrail bound to the project refused Cat.
    "cat@example.com": [`resource.delete ${CLOUD}`],
    "dan@example.com": [],
  });
});

test("a removal is judged on its ancestors as they were: one deleted and created again by another owner is not one", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com"), actor);
  await createResource(store, { name: "organizations/other", parent: "", type: "organization", displayName: "" }, actor);
  await store.updatePolicy("organizations/other", () => owners("zed@example.com"), actor);
  const from = await store.latestSequence();
  await store.deleteResource(PROJECT, () => ({ cascade: false }), actor);
  await store.deleteResource(CLOUD, () => ({ cascade: false }), actor);
  await createResource(store, { name: CLOUD, parent: "organizations/other", type: "cloud", displayName: "" }, actor);
  const [projectGone] = await rowsAfter(from);
  expect(await received([projectGone!], "ann@example.com", "zed@example.com")).toEqual({
    "ann@example.com": [`resource.delete ${PROJECT}`],
    "zed@example.com": [],
  });
});

test("a removal logged before removals kept their deny rules, and an action this version does not know, reach administrators only", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com"), actor);
  const from = await store.latestSequence();
  await store.deleteResource(PROJECT, () => ({ cascade: false }), actor);
  const [row] = await rowsAfter(from);
  const legacy: ChangeRecord = { ...row!, denyRulesAtRemoval: undefined };
  const unknown: ChangeRecord = { ...row!, action: "resource.archive" as ChangeAction };
  // A judge each: a judge remembers a removal row it has seen.
  expect(await visibility().visible(row!, caller("ann@example.com"))).toBe(true);
  expect(await visibility().visible(legacy, caller("ann@example.com"))).toBe(false);
  expect(await visibility().visible(unknown, caller("ann@example.com"))).toBe(false);
  expect(await visibility().visible(legacy, { principal: actor.principal, identities: [actor.principal] })).toBe(true);
});

test("a binding reaches the target half, or the policy half when it may see the target", async () => {
  await updateSharedPolicy(store, "sharedPolicies/s", () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), actor);
  await store.updatePolicy("sharedPolicies/s", () => policy({ bindings: [binding("roles/readonly", ["user:sue@example.com", "user:sam@example.com"])] }), actor);
  await store.updatePolicy(PROJECT, () => policy({ bindings: [binding("roles/readonly", ["user:sam@example.com"])] }), actor);
  await store.updatePolicy(CLOUD, () => policy({ bindings: [binding("roles/collaborator", ["user:tom@example.com"])] }), actor);
  const from = await store.latestSequence();
  await updateBinding(store, "sharedPolicies/s", PROJECT, () => true, actor);
  expect(await received(await rowsAfter(from), "sue@example.com", "sam@example.com", "tom@example.com")).toEqual({
    // Sue may read the shared policy's bindings but may not see the project.
    "sue@example.com": [],
    "sam@example.com": [`sharedPolicyBinding.create ${PROJECT}`],
    // Tom may see the project but holds neither half.
    "tom@example.com": [],
  });
});

test("every action has a rule whose permissions the schema knows", () => {
  // Each action's row as the stores log it: roles against the organization, shared policies against themselves.
  const resourceOf = (action: string) => (action.startsWith("role.") ? ORG : action.startsWith("sharedPolicy.") ? "sharedPolicies/s" : PROJECT);
  for (const [action, rule] of Object.entries(CHANGE_VISIBILITY)) {
    const row = { resource: resourceOf(action), sharedPolicyBinding: { sharedPolicy: "sharedPolicies/s" } } as unknown as ChangeRecord;
    for (const needs of rule.needs(row)) {
      for (const need of needs) expect(defaultSchema.permissions.has(need.permission), `${action}: ${need.permission}`).toBe(true);
    }
  }
});

test("judging a cascade for many watchers reads each removed ancestor's end once, not once per change and watcher", async () => {
  const emails = Array.from({ length: 5 }, (_, i) => `w${i}@example.com`);
  await store.updatePolicy(ORG, () => owners(...emails), actor);
  for (let i = 0; i < 20; i++) await createResource(store, { name: `projects/q${i}`, parent: CLOUD, type: "project", displayName: "" }, actor);
  const from = await store.latestSequence();
  await store.deleteResource(CLOUD, () => ({ cascade: true }), actor);
  const rows = await rowsAfter(from);
  calls.clear();
  const judge = visibility();
  let delivered = 0;
  for (const row of rows) {
    for (const email of emails) if (await judge.visible(row, caller(email))) delivered++;
  }
  expect(delivered).toBe(rows.length * emails.length);
  // The removal is read once (readChanges({ removalOf }): the judge reads the change log for nothing else).
  expect(calls.get("readChanges")).toBe(1);
  // One read of the absent cloud, whose end is then known; the organization's chain comes from the cache.
  expect(calls.get("ancestry") ?? 0).toBeLessThanOrEqual(2);
});

test("a row judged again after its resource's policy changed is judged by the policy now; administrators see everything", async () => {
  await store.updatePolicy(PROJECT, () => owners("dan@example.com"), actor);
  const [written] = await rowsAfter((await store.latestSequence()) - 1);
  const judge = visibility();
  expect(judge.seesEverything({ principal: actor.principal, identities: [actor.principal] })).toBe(true);
  expect(judge.seesEverything(caller("ann@example.com"))).toBe(false);
  expect(await judge.visible(written!, caller("ann@example.com"))).toBe(false);
  // Ann is made an owner: a stream judging the row now (one replaying the history) delivers it to her.
  await store.updatePolicy(PROJECT, () => owners("dan@example.com", "ann@example.com"), actor);
  expect(await judge.visible(written!, caller("ann@example.com"))).toBe(true);
});

test("judgments are shared within one turn of the event loop only: each later turn judges the row by the policy then", async () => {
  await store.updatePolicy(PROJECT, () => owners("dan@example.com"), actor);
  const [written] = await rowsAfter((await store.latestSequence()) - 1);
  const judge = visibility();
  const ann = caller("ann@example.com");
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  // Ann is made an owner, then not, then again: each judgment in a turn of its own sees the policy of its moment.
  for (const [owner, seen] of [[false, false], [true, true], [false, false], [true, true], [false, false]] as const) {
    await store.updatePolicy(PROJECT, () => (owner ? owners("dan@example.com", "ann@example.com") : owners("dan@example.com")), actor);
    await nextTurn();
    expect(await judge.visible(written!, ann)).toBe(seen);
    // The same turn shares it with a second stream of the same caller.
    expect(await judge.visible(written!, ann)).toBe(seen);
  }
});

test("a row judged while a read of its resource made before the row is still in flight is judged by a read made after it", async () => {
  await store.updatePolicy(PROJECT, () => owners("dan@example.com"), actor);
  const [before] = await rowsAfter((await store.latestSequence()) - 1);
  // An Access whose chain reads are made at once but answered only when released: a read that is slow to come back.
  const access = new Access(store, defaultSchema);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reads = 0;
  const slow = Object.create(access, {
    resolve: {
      value: (name: string) => {
        const resolved = access.resolve(name);
        return Object.create(resolved, {
          chain: {
            value: async () => {
              const chain = await resolved.chain();
              reads++;
              await released;
              return chain;
            },
          },
        });
      },
    },
  }) as Access;
  const judge = new WatchVisibility(store, slow, new Authorizer(access, defaultSchema, new Set([actor.principal]), true));
  const ann = caller("ann@example.com");
  const judgedBefore = judge.visible(before!, ann);
  await waitFor(() => reads === 1, "the first row's read of the project");
  // Ann is made an owner after that read: the row that did it reaches her.
  await store.updatePolicy(PROJECT, () => owners("dan@example.com", "ann@example.com"), actor);
  const [made] = await rowsAfter((await store.latestSequence()) - 1);
  const judgedMade = judge.visible(made!, ann);
  release();
  expect(await Promise.all([judgedBefore, judgedMade])).toEqual([false, true]);
});
