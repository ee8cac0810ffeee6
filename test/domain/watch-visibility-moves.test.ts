// Who receives a move, the history of a resource since removed or replaced by another of the same name, and a
// binding's row without its shared policy (domain/watch-visibility.ts), over a real SQLite store behind the read cache.
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, expect, test } from "vitest";
import { DenyPolicySchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { RoleSchema } from "../../gen/policy/v1/role_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { ChangeKind } from "../../gen/policy/v1/watch_service_pb.js";
import { updateBinding, updateDenyPolicy, updateRole, updateSharedPolicy } from "../../src/domain/kinds.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { WatchVisibility, kindOf } from "../../src/domain/watch-visibility.js";
import { cachingStore } from "../../src/store/caching-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { ChangeAction, ChangeQuery, ChangeRecord, Store } from "../../src/store/store.js";
import { binding, defaultSchema, policy } from "../helpers/fixtures.js";
import { waitFor } from "../helpers/wait.js";
import { createResource } from "../../src/store/store.js";

const ROOT = { principal: "user:root@example.com" };
const ORG = "organizations/o";
const CLOUD = "clouds/c";
const OTHER_CLOUD = "clouds/d";
const PROJECT = "projects/p";
const caller = (email: string): Caller => ({ principal: `user:${email}`, identities: [`user:${email}`] });

let store: Store;

beforeEach(async () => {
  store = cachingStore(new SqliteStore(":memory:"));
  await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "" }, ROOT);
  await createResource(store, { name: CLOUD, parent: ORG, type: "cloud", displayName: "" }, ROOT);
  await createResource(store, { name: OTHER_CLOUD, parent: ORG, type: "cloud", displayName: "" }, ROOT);
  await createResource(store, { name: PROJECT, parent: CLOUD, type: "project", displayName: "" }, ROOT);
});

afterEach(async () => {
  await store.close();
});

function judge(): WatchVisibility {
  const access = new Access(store, defaultSchema);
  return new WatchVisibility(store, access, new Authorizer(access, defaultSchema, new Set([ROOT.principal]), true));
}

const owners = (...emails: string[]) => policy({ bindings: [binding("roles/owner", emails.map((e) => `user:${e}`))] });
const collaborators = (...emails: string[]) => policy({ bindings: [binding("roles/collaborator", emails.map((e) => `user:${e}`))] });

/** A deny policy refusing `email` the projects' policies. */
const refuse = (email: string) =>
  create(DenyPolicySchema, { rules: [{ deniedPrincipals: [`user:${email}`], deniedPermissions: ["projects.getPolicy"] }] });

async function rowsAfter(seq: number): Promise<ChangeRecord[]> {
  return store.readChanges({ afterSeq: seq, limit: 1000 });
}

/** For each caller, `action resource` of the rows it receives, in order; one judge for all, as a server has. */
async function received(rows: readonly ChangeRecord[], ...emails: string[]): Promise<Record<string, string[]>> {
  const visibility = judge();
  const seen: Record<string, string[]> = {};
  for (const email of emails) {
    seen[email] = [];
    for (const row of rows) if (await visibility.visible(row, caller(email))) seen[email].push(`${row.action} ${row.resource}`);
  }
  return seen;
}

test("a move reaches whoever may read the moved resource's policy where it was or where it went; what follows, only the latter", async () => {
  // Owners of the organization, each refused the projects' policies under one cloud (Cy under both).
  await store.updatePolicy(ORG, () => owners("ann@example.com", "ben@example.com", "cy@example.com"), ROOT);
  await updateDenyPolicy(store, OTHER_CLOUD, () => refuse("ann@example.com"), ROOT);
  await updateDenyPolicy(store, CLOUD, () => refuse("ben@example.com"), ROOT);
  await updateDenyPolicy(store, ORG, () => refuse("cy@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), ROOT);
  await store.updatePolicy(PROJECT, () => owners("dan@example.com"), ROOT);
  const rows = await rowsAfter(from);
  expect(rows.map(kindOf)).toEqual([ChangeKind.RESOURCE_MOVED, ChangeKind.POLICY_SET]);
  expect(await received(rows, "ann@example.com", "ben@example.com", "cy@example.com")).toEqual({
    "ann@example.com": [`resource.update ${PROJECT}`],
    "ben@example.com": [`resource.update ${PROJECT}`, `policy.set ${PROJECT}`],
    "cy@example.com": [],
  });
});

test("a resource since removed: its removal and its moves reach whoever could see it there; its other changes, administrators only", async () => {
  await store.updatePolicy(CLOUD, () => collaborators("ann@example.com"), ROOT);
  await store.updatePolicy(OTHER_CLOUD, () => collaborators("ben@example.com"), ROOT);
  // Collaborators of a cloud do not hold projects.getPolicy; owners of the organization do.
  await store.updatePolicy(ORG, () => owners("org@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updatePolicy(PROJECT, () => owners("dan@example.com"), ROOT);
  await store.updateResource(PROJECT, () => ({ displayName: "renamed" }), ROOT);
  await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), ROOT);
  await store.deleteResource(PROJECT, () => ({ cascade: false }), ROOT);
  const rows = await rowsAfter(from);
  expect(rows.map(kindOf)).toEqual([ChangeKind.POLICY_SET, ChangeKind.RESOURCE_UPDATED, ChangeKind.RESOURCE_MOVED, ChangeKind.RESOURCE_DELETED]);
  const visibility = judge();
  for (const row of rows) expect(await visibility.visible(row, { principal: ROOT.principal, identities: [ROOT.principal] })).toBe(true);
  expect(await received(rows, "org@example.com", "dan@example.com", "ann@example.com")).toEqual({
    "org@example.com": [`resource.update ${PROJECT}`, `resource.delete ${PROJECT}`],
    // Dan owned the project itself: gone with it.
    "dan@example.com": [],
    "ann@example.com": [],
  });
});

test("a moved resource since removed: its move reaches the readers of either parent, its removal those of the last one", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com", "ben@example.com"), ROOT);
  // Ann may not read the projects' policies under the second cloud, Ben under the first.
  await updateDenyPolicy(store, OTHER_CLOUD, () => refuse("ann@example.com"), ROOT);
  await updateDenyPolicy(store, CLOUD, () => refuse("ben@example.com"), ROOT);
  await store.updatePolicy(PROJECT, () => owners("dan@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), ROOT);
  await store.deleteResource(PROJECT, () => ({ cascade: false }), ROOT);
  expect(await received(await rowsAfter(from), "ann@example.com", "ben@example.com", "dan@example.com")).toEqual({
    "ann@example.com": [`resource.update ${PROJECT}`],
    "ben@example.com": [`resource.update ${PROJECT}`, `resource.delete ${PROJECT}`],
    "dan@example.com": [],
  });
});

test("a resource created again under a removed one's name: the new one's readers receive its rows only, from its creation", async () => {
  await store.updatePolicy(PROJECT, () => owners("ann@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updatePolicy(PROJECT, () => owners("ann@example.com", "zed@example.com"), ROOT);
  await store.deleteResource(PROJECT, () => ({ cascade: false }), ROOT);
  await createResource(store, { name: PROJECT, parent: CLOUD, type: "project", displayName: "" }, ROOT);
  await store.updatePolicy(PROJECT, () => owners("bob@example.com"), ROOT);
  const rows = await rowsAfter(from);
  const [, , created, newPolicy] = rows;
  // The creation row is the new resource's first: its createSeq.
  expect((await store.getPolicy(PROJECT))!.createSeq).toBe(created!.seq);
  // Bob may read the new project's policy: its creation (at its createSeq) and its policy, never the old one's rows.
  // (The creation row is judged on the policy now, which names Bob.)
  expect(await received(rows, "bob@example.com", "ann@example.com", "zed@example.com")).toEqual({
    "bob@example.com": [`resource.create ${PROJECT}`, `policy.set ${PROJECT}`],
    "ann@example.com": [],
    "zed@example.com": [],
  });
  expect(newPolicy!.action).toBe("policy.set");
});

test("a binding's row that does not name its shared policy reaches the target half only", async () => {
  await updateSharedPolicy(store, "sharedPolicies/s", () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), ROOT);
  await store.updatePolicy("sharedPolicies/s", () => policy({ bindings: [binding("roles/readonly", ["user:sue@example.com"])] }), ROOT);
  await store.updatePolicy(PROJECT, () => policy({ bindings: [binding("roles/readonly", ["user:sue@example.com"]), binding("roles/owner", ["user:sam@example.com"])] }), ROOT);
  const from = await store.latestSequence();
  await updateBinding(store, "sharedPolicies/s", PROJECT, () => true, ROOT);
  const [row] = await rowsAfter(from);
  expect(await received([row!], "sue@example.com", "sam@example.com")).toEqual({
    "sue@example.com": [`sharedPolicyBinding.create ${PROJECT}`],
    "sam@example.com": [`sharedPolicyBinding.create ${PROJECT}`],
  });
  const bare: ChangeRecord = { ...row!, sharedPolicyBinding: undefined };
  expect(await judge().visible(bare, caller("sue@example.com"))).toBe(false);
  expect(await judge().visible(bare, caller("sam@example.com"))).toBe(true);
});

test("each kind of row needs its own read's permission: refused one, an organization's owner still receives the others", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updatePolicy(PROJECT, () => owners("dan@example.com"), ROOT);
  await updateDenyPolicy(store, PROJECT, () => create(DenyPolicySchema, { rules: [{ deniedPrincipals: ["user:eve@example.com"], deniedPermissions: ["projects.delete"] }] }), ROOT);
  const role = `${ORG}/roles/reader`;
  await updateRole(store, ORG, "reader", () => create(RoleSchema, { name: role, title: "Reader", includedPermissions: ["projects.get"] }), ROOT);
  await updateSharedPolicy(store, "sharedPolicies/s", () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), ROOT);
  const rows = await rowsAfter(from);
  const actions = rows.map((r) => r.action);
  expect(actions).toEqual(["policy.set", "denyPolicy.set", "role.create", "sharedPolicy.create"]);
  expect(rows.map(kindOf)).toEqual([ChangeKind.POLICY_SET, ChangeKind.DENY_POLICY_SET, ChangeKind.ROLE_CHANGED, ChangeKind.SHARED_POLICY_CREATED]);
  const refusing = async (permission: string, on: string): Promise<string[]> => {
    await updateDenyPolicy(store, on, () => create(DenyPolicySchema, { rules: [{ deniedPrincipals: ["user:ann@example.com"], deniedPermissions: [permission] }] }), ROOT);
    const seen = (await received(rows, "ann@example.com"))["ann@example.com"]!.map((r) => r.split(" ")[0]!);
    await updateDenyPolicy(store, on, () => undefined, ROOT);
    return seen;
  };
  expect((await received(rows, "ann@example.com"))["ann@example.com"]!.map((r) => r.split(" ")[0])).toEqual(actions);
  expect(await refusing("projects.getPolicy", ORG)).toEqual(["denyPolicy.set", "role.create", "sharedPolicy.create"]);
  expect(await refusing("projects.getDenyPolicy", ORG)).toEqual(["policy.set", "role.create", "sharedPolicy.create"]);
  expect(await refusing("organizations.getRole", ORG)).toEqual(["policy.set", "denyPolicy.set", "sharedPolicy.create"]);
  expect(await refusing("sharedPolicies.get", ORG)).toEqual(["policy.set", "denyPolicy.set", "role.create"]);
});

test("an action this version does not know has no kind", () => {
  expect(kindOf({ action: "resource.archive" as ChangeAction } as ChangeRecord)).toBe(ChangeKind.UNSPECIFIED);
  expect(kindOf({ action: "resource.update" } as ChangeRecord)).toBe(ChangeKind.RESOURCE_UPDATED);
  expect(kindOf({ action: "resource.update", previousParent: "" } as ChangeRecord)).toBe(ChangeKind.RESOURCE_MOVED);
});

test("a deny rule of the moved resource itself applies where it was too: its move does not reach those it refuses", async () => {
  await store.updatePolicy(CLOUD, () => collaborators("ann@example.com"), ROOT);
  await store.updatePolicy(ORG, () => owners("ann@example.com", "ben@example.com"), ROOT);
  // Ann reads the project's policy as an owner of the organization, but the project itself refuses her.
  await updateDenyPolicy(store, PROJECT, () => refuse("ann@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), ROOT);
  // Judged while the project still exists (its move), then once it is gone (the move and the removal).
  const [moved] = await rowsAfter(from);
  const judgeNow = judge();
  expect(await judgeNow.visible(moved!, caller("ben@example.com"))).toBe(true);
  expect(await judgeNow.visible(moved!, caller("ann@example.com"))).toBe(false);
  await store.deleteResource(PROJECT, () => ({ cascade: false }), ROOT);
  const [, removed] = await rowsAfter(from);
  expect(await received([moved!, removed!], "ann@example.com", "ben@example.com")).toEqual({
    "ann@example.com": [],
    "ben@example.com": [`resource.update ${PROJECT}`, `resource.delete ${PROJECT}`],
  });
});

test("a removed ancestor whose end is unknown (no removal row, or one without its deny rules): nothing is judged through it", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.deleteResource(CLOUD, () => ({ cascade: true }), ROOT);
  const rows = await rowsAfter(from);
  const projectGone = rows.find((r) => r.resource === PROJECT)!;
  type RemovalOf = (name: string, seq: number) => Promise<ChangeRecord | undefined>;
  const removalOf: RemovalOf = async (name, seq) => (await store.readChanges({ removalOf: name, fromSeq: seq }))[0];
  const visibilityWith = (find: RemovalOf) => {
    const access = new Access(store, defaultSchema);
    // The judge reads the change log for removals only (readChanges({ removalOf, fromSeq })).
    const readChanges = async (query: ChangeQuery) => {
      if (!("removalOf" in query)) throw new Error("the judge reads removals only");
      const removal = await find(query.removalOf, query.fromSeq);
      return removal ? [removal] : [];
    };
    return new WatchVisibility({ readChanges }, access, new Authorizer(access, defaultSchema, new Set([ROOT.principal]), true));
  };
  // As recorded: the project's removal reaches the organization's owner.
  expect(await visibilityWith(removalOf).visible(projectGone, caller("ann@example.com"))).toBe(true);
  // The cloud's removal predates recorded deny rules, or is no longer in the log: fail closed.
  const legacy = visibilityWith(async (name, seq) => {
    const removal = await removalOf(name, seq);
    return removal && { ...removal, denyRulesAtRemoval: undefined };
  });
  expect(await legacy.visible(projectGone, caller("ann@example.com"))).toBe(false);
  expect(await visibilityWith(async () => undefined).visible(projectGone, caller("ann@example.com"))).toBe(false);
});

test("a move of a resource since removed, whose removal is no longer in the log, reaches administrators only", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), ROOT);
  await store.deleteResource(PROJECT, () => ({ cascade: false }), ROOT);
  const [moved] = await rowsAfter(from);
  const access = new Access(store, defaultSchema);
  const pruned = new WatchVisibility({ readChanges: async () => [] }, access, new Authorizer(access, defaultSchema, new Set([ROOT.principal]), true));
  expect(await pruned.visible(moved!, caller("ann@example.com"))).toBe(false);
  expect(await judge().visible(moved!, caller("ann@example.com"))).toBe(true);
});

test("streams judging the moves of two removed resources at once each get their own resource's end", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com"), ROOT);
  await createResource(store, { name: "projects/q", parent: CLOUD, type: "project", displayName: "" }, ROOT);
  // The first project refuses Ann its policy; the second does not.
  await updateDenyPolicy(store, PROJECT, () => refuse("ann@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), ROOT);
  await store.updateResource("projects/q", () => ({ parent: OTHER_CLOUD }), ROOT);
  await store.deleteResource(PROJECT, () => ({ cascade: false }), ROOT);
  await store.deleteResource("projects/q", () => ({ cascade: false }), ROOT);
  const [movedP, movedQ] = await rowsAfter(from);
  const visibility = judge();
  const ann = caller("ann@example.com");
  expect(await Promise.all([visibility.visible(movedP!, ann), visibility.visible(movedQ!, ann)])).toEqual([false, true]);
});

test("streams judging at once the moves of two resources since removed and replaced under their names each get their own resource's end", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com"), ROOT);
  const Q = "projects/q";
  await createResource(store, { name: Q, parent: CLOUD, type: "project", displayName: "" }, ROOT);
  // The first project refuses Ann its policy; the second does not.
  await updateDenyPolicy(store, PROJECT, () => refuse("ann@example.com"), ROOT);
  const from = await store.latestSequence();
  for (const name of [PROJECT, Q]) await store.updateResource(name, () => ({ parent: OTHER_CLOUD }), ROOT);
  for (const name of [PROJECT, Q]) await store.deleteResource(name, () => ({ cascade: false }), ROOT);
  // New resources under the old names: the moves belong to the removed ones, whose ends must be read.
  for (const name of [PROJECT, Q]) await createResource(store, { name, parent: CLOUD, type: "project", displayName: "" }, ROOT);
  const [movedP, movedQ] = await rowsAfter(from);
  // A store whose removal reads are held open until released, so that both streams are reading at once.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let removalReads = 0;
  const readChanges = async (query: ChangeQuery) => {
    if ("removalOf" in query) {
      removalReads++;
      await released;
    }
    return store.readChanges(query);
  };
  const access = new Access(store, defaultSchema);
  const visibility = new WatchVisibility({ readChanges }, access, new Authorizer(access, defaultSchema, new Set([ROOT.principal]), true));
  const ann = caller("ann@example.com");
  const judged = Promise.all([visibility.visible(movedP!, ann), visibility.visible(movedQ!, ann)]);
  await waitFor(() => removalReads > 0, "a removal read");
  // Every other read is answered within microtasks (SQLite behind the cache): one turn of the event loop lets the
  // second stream run until it too waits on a removal's end.
  await new Promise((resolve) => setImmediate(resolve));
  release();
  expect(await judged).toEqual([false, true]);
});

test("a name removed, created again with other deny rules and removed again: each resource's rows are judged by its own end, whichever was judged first", async () => {
  await store.updatePolicy(ORG, () => owners("ann@example.com", "ben@example.com"), ROOT);
  // The first project refuses Ann its policy; the second, of the same name, refuses Ben.
  await updateDenyPolicy(store, PROJECT, () => refuse("ann@example.com"), ROOT);
  const from = await store.latestSequence();
  await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), ROOT);
  await store.deleteResource(PROJECT, () => ({ cascade: false }), ROOT);
  await createResource(store, { name: PROJECT, parent: CLOUD, type: "project", displayName: "" }, ROOT);
  await updateDenyPolicy(store, PROJECT, () => refuse("ben@example.com"), ROOT);
  await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), ROOT);
  await store.deleteResource(PROJECT, () => ({ cascade: false }), ROOT);
  const rows = await rowsAfter(from);
  expect(rows.map((r) => r.action)).toEqual(["resource.update", "resource.delete", "resource.create", "denyPolicy.set", "resource.update", "resource.delete"]);
  const [moved1, removed1, , , moved2, removed2] = rows;
  const label = new Map([
    [moved1, "first moved"],
    [removed1, "first removed"],
    [moved2, "second moved"],
    [removed2, "second removed"],
  ]);
  // One judge, as a server has: a stream from now judges the second project's rows before a stream replaying the
  // history judges the first's.
  const visibility = judge();
  const seen = async (email: string) => {
    const out: string[] = [];
    for (const row of [moved2, removed2, moved1, removed1]) if (await visibility.visible(row!, caller(email))) out.push(label.get(row)!);
    return out;
  };
  expect(await seen("ann@example.com")).toEqual(["second moved", "second removed"]);
  expect(await seen("ben@example.com")).toEqual(["first moved", "first removed"]);
});
