// What the Sync facade (domain/sync.ts) answers a caller: each request's problems by field, the bounds at their limit
// and one past, who may read, manage and acknowledge a consumer (its subtree's getPolicy / setPolicy, deny rules
// included; administrators only without a subtree), what GetSyncStatus shows a reader who may not read every covering
// consumer, and how stale the consumers in memory may be (SNAPSHOT_MS, on a frozen clock).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { DenyPolicySchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { PolicySchema, SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import {
  AcknowledgeChangesRequestSchema,
  CreateConsumerRequestSchema,
  DeleteConsumerRequestSchema,
  GetConsumerRequestSchema,
  GetSyncStatusRequestSchema,
  type ConsumerSchema,
} from "../../gen/policy/v1/sync_service_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { CONSUMER_LIMITS, type ConsumerLimits } from "../../src/domain/consumer-limits.js";
import { updateDenyPolicy } from "../../src/domain/kinds.js";
import { SNAPSHOT_MS, Sync } from "../../src/domain/sync.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { StoreError } from "../../src/store/store-error.js";
import { createResource, type Store } from "../../src/store/store.js";
import { defaultSchema } from "../helpers/fixtures.js";

const ADMIN: Caller = { principal: "user:root@example.com", identities: ["user:root@example.com"] };
const OWNER: Caller = { principal: "user:owner@example.com", identities: ["user:owner@example.com"] };
/** Owner of the project too, but refused projects.setPolicy there by a deny rule: may read, not manage. */
const READER: Caller = { principal: "user:reader@example.com", identities: ["user:reader@example.com"] };
const STRANGER: Caller = { principal: "user:stranger@example.com", identities: ["user:stranger@example.com"] };
const ORG = "organizations/o";
const OTHER_ORG = "organizations/other";
const CLOUD = "clouds/c";
const PROJECT = "projects/p";
const OTHER = "projects/q";

let store: SqliteStore;

beforeEach(async () => {
  store = new SqliteStore(":memory:");
  for (const [name, parent, type] of [
    [ORG, "", "organization"],
    [OTHER_ORG, "", "organization"],
    [CLOUD, ORG, "cloud"],
    [PROJECT, CLOUD, "project"],
    [OTHER, OTHER_ORG, "project"],
  ] as const) {
    await createResource(store, { name, parent, type, displayName: "" }, ADMIN);
  }
  const owners = [OWNER, READER].map((c) => c.principal);
  await store.updatePolicy(PROJECT, () => create(PolicySchema, { bindings: [{ role: "roles/owner", members: owners }] }), ADMIN);
  await updateDenyPolicy(
    store,
    PROJECT,
    () => create(DenyPolicySchema, { rules: [{ deniedPrincipals: [READER.principal], deniedPermissions: ["projects.setPolicy"] }] }),
    ADMIN,
  );
});

afterEach(async () => {
  vi.useRealTimers();
  await store.close();
});

function syncOver(limits: Partial<ConsumerLimits> = {}, over: Store = store): Sync {
  const authorizer = new Authorizer(new Access(over, defaultSchema), defaultSchema, new Set([ADMIN.principal]), true);
  return new Sync(over, defaultSchema, authorizer, { ...CONSUMER_LIMITS, ...limits });
}

type ConsumerInit = MessageInitShape<typeof ConsumerSchema>;
const register = (sync: Sync, consumer: ConsumerInit | undefined, caller = ADMIN) =>
  sync.create(create(CreateConsumerRequestSchema, consumer ? { consumer } : {}), caller);
const acknowledge = (sync: Sync, request: MessageInitShape<typeof AcknowledgeChangesRequestSchema>, caller = ADMIN) =>
  sync.acknowledge(create(AcknowledgeChangesRequestSchema, request), caller);
const get = (sync: Sync, name: string, caller = ADMIN) => sync.get(create(GetConsumerRequestSchema, { name }), caller);
const remove = (sync: Sync, name: string, caller = ADMIN) => sync.delete(create(DeleteConsumerRequestSchema, { name }), caller);
const failure = async (work: Promise<unknown>) => {
  const e = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!e) throw new Error("expected the request to fail");
  return e as { code: string; message: string; violations: { field: string; description: string }[] };
};
const notFound = (name: string) => ({ code: "not_found", message: `consumer "${name}" not found; register it with SyncService.CreateConsumer` });

test("CreateConsumer names every problem of its request by field; at their bounds the fields are accepted", async () => {
  const sync = syncOver();
  expect(await failure(register(sync, undefined))).toMatchObject({ code: "invalid_argument", violations: [{ field: "consumer", description: "is required" }] });
  const bad = await failure(
    register(sync, { name: "consumers/Bad_Name", displayName: "x".repeat(201), subtree: "nowhere", resourceTypes: ["project", "planet"] }),
  );
  expect(bad.code).toBe("invalid_argument");
  expect(bad.violations.map((v) => v.field)).toEqual(["consumer.name", "consumer.display_name", "consumer.subtree", "consumer.resource_types[1]"]);
  expect(bad.violations[0]!.description).toBe(`"consumers/Bad_Name" is not a consumer name: consumers/{id}, 1-63 lowercase letters, digits and '-'`);
  expect(bad.violations[1]!.description).toBe("at most 200 characters");
  expect(bad.violations[3]!.description).toBe(`unknown type "planet"`);
  // A subtree that is a resource name but names nothing.
  expect(await failure(register(sync, { name: "consumers/ghost", subtree: "projects/none" }))).toMatchObject({ code: "not_found" });

  const made = await register(sync, { name: "consumers/edge", displayName: "x".repeat(200), subtree: CLOUD, resourceTypes: ["project", "project", "cloud"] });
  expect(made).toMatchObject({ name: "consumers/edge", subtree: CLOUD, resourceTypes: ["project", "cloud"], acknowledgedSequence: 0n, failureCount: 0 });
  expect(made.acknowledgeTime).toBeUndefined();
  // Its lag is the whole change log: it has acknowledged nothing.
  expect(made.lagSequences).toBe(BigInt(await store.latestSequence()));
  expect(made.lagSequences).toBeGreaterThan(0n);
  expect(await failure(register(sync, { name: "consumers/edge", subtree: CLOUD }))).toMatchObject({
    code: "already_exists",
    message: `consumer "consumers/edge" already exists`,
  });
});

test("consumers per organization and without a subtree: the limit is accepted, one more is RESOURCE_EXHAUSTED; each counts its own", async () => {
  const sync = syncOver({ perOrganization: 2, unscoped: 1 });
  await register(sync, { name: "consumers/o-1", subtree: ORG });
  await register(sync, { name: "consumers/o-2", subtree: PROJECT });
  expect(await failure(register(sync, { name: "consumers/o-3", subtree: CLOUD }))).toMatchObject({
    code: "resource_exhausted",
    message: expect.stringContaining(`organization "${ORG}" has 2 consumers`),
  });
  // Another organization, and the server's consumers of every resource, are counted apart.
  await register(sync, { name: "consumers/other-1", subtree: OTHER });
  await register(sync, { name: "consumers/all-1" });
  expect(await failure(register(sync, { name: "consumers/all-2" }))).toMatchObject({
    code: "resource_exhausted",
    message: expect.stringContaining("the server has 1 consumers without a subtree"),
  });
  await register(sync, { name: "consumers/other-2", subtree: OTHER_ORG });
});

test("managing a consumer needs setPolicy on its subtree (deny rules apply), reading it getPolicy; without a subtree, administrators only", async () => {
  const sync = syncOver();
  expect(await failure(register(sync, { name: "consumers/all" }, OWNER))).toMatchObject({
    code: "permission_denied",
    message: "only the server's administrators may register a consumer of every resource",
  });
  expect((await failure(register(sync, { name: "consumers/by-reader", subtree: PROJECT }, READER))).code).toBe("permission_denied");
  // Who may not see the project is not told it exists.
  expect((await failure(register(sync, { name: "consumers/by-stranger", subtree: PROJECT }, STRANGER))).code).toBe("not_found");
  await register(sync, { name: "consumers/edge", subtree: PROJECT }, OWNER);
  await register(sync, { name: "consumers/all" });
  await register(sync, { name: "consumers/elsewhere", subtree: OTHER });

  // Reading: the owner and the reader read the project's consumer; nobody but administrators the others.
  expect((await get(sync, "consumers/edge", READER)).name).toBe("consumers/edge");
  for (const caller of [OWNER, READER, STRANGER]) {
    expect(await failure(get(sync, "consumers/all", caller))).toMatchObject(notFound("consumers/all"));
    expect(await failure(get(sync, "consumers/elsewhere", caller))).toMatchObject(notFound("consumers/elsewhere"));
  }
  expect(await failure(get(sync, "consumers/edge", STRANGER))).toMatchObject(notFound("consumers/edge"));
  expect((await sync.list(READER)).map((c) => c.name)).toEqual(["consumers/edge"]);
  expect((await sync.list(STRANGER)).map((c) => c.name)).toEqual([]);
  expect((await sync.list(ADMIN)).map((c) => c.name).sort()).toEqual(["consumers/all", "consumers/edge", "consumers/elsewhere"]);

  // Managing: the reader may neither acknowledge nor delete (as if it did not exist); the owner may.
  const latest = BigInt(await store.latestSequence());
  expect(await failure(acknowledge(sync, { consumer: "consumers/edge", sequence: latest }, READER))).toMatchObject(notFound("consumers/edge"));
  expect(await failure(remove(sync, "consumers/edge", READER))).toMatchObject(notFound("consumers/edge"));
  expect((await get(sync, "consumers/edge")).acknowledgedSequence).toBe(0n);
  const acked = (await acknowledge(sync, { consumer: "consumers/edge", sequence: latest }, OWNER)).consumer!;
  expect(acked).toMatchObject({ acknowledgedSequence: latest, lagSequences: 0n });
  expect(acked.acknowledgeTime).toBeDefined();
  await remove(sync, "consumers/edge", OWNER);
  expect(await failure(get(sync, "consumers/edge"))).toMatchObject(notFound("consumers/edge"));
  expect(await failure(remove(sync, "consumers/edge"))).toMatchObject(notFound("consumers/edge"));
});

test("a consumer deleted by a concurrent call is NOT_FOUND for the other, in the facade's words", async () => {
  const sync = syncOver();
  await register(sync, { name: "consumers/edge", subtree: PROJECT });
  const both = await Promise.allSettled([remove(sync, "consumers/edge"), remove(sync, "consumers/edge")]);
  expect(both.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
  const rejected = both.find((r) => r.status === "rejected") as PromiseRejectedResult;
  expect(rejected.reason).toMatchObject(notFound("consumers/edge"));
});

test("AcknowledgeChanges names every problem of its request by field, at each bound and one past it", async () => {
  const sync = syncOver({ perAcknowledgement: 2, messageLength: 10 });
  await register(sync, { name: "consumers/edge", subtree: CLOUD, resourceTypes: ["project"] });
  await register(sync, { name: "consumers/all" });
  const latest = BigInt(await store.latestSequence());
  const f = (resource: string, sequence = latest, message = "no") => ({ resource, sequence, message });

  expect(await failure(acknowledge(sync, { consumer: "consumers/edge", sequence: latest, failures: [f(PROJECT), f(PROJECT), f(PROJECT)] }))).toMatchObject({
    code: "resource_exhausted",
    violations: [{ field: "failures" }],
  });
  expect(await failure(acknowledge(sync, { consumer: "consumers/edge", sequence: latest, resolved: [PROJECT, PROJECT, PROJECT] }))).toMatchObject({
    code: "resource_exhausted",
    violations: [{ field: "resolved" }],
  });
  const bad = await failure(
    acknowledge(sync, { consumer: "consumers/edge", sequence: -1n, failures: [f("nowhere", 0n, "x".repeat(11)), f(PROJECT, 1n)] }),
  );
  expect(bad).toMatchObject({ code: "invalid_argument" });
  expect(bad.violations).toEqual([
    { field: "sequence", description: "must not be negative" },
    { field: "failures[0].resource", description: "is not a resource name" },
    { field: "failures[0].sequence", description: "must be a sequence up to the acknowledged one" },
    { field: "failures[0].message", description: "at most 10 characters" },
    { field: "failures[1].sequence", description: "must be a sequence up to the acknowledged one" },
  ]);
  // A failure at sequence 0 (before any change) is no failure of a change.
  expect((await failure(acknowledge(sync, { consumer: "consumers/edge", sequence: latest, failures: [f(PROJECT, 0n)] }))).violations).toEqual([
    { field: "failures[0].sequence", description: "must be a sequence up to the acknowledged one" },
  ]);
  expect(await failure(acknowledge(sync, { consumer: "consumers/edge", sequence: latest + 1n }))).toMatchObject({
    code: "failed_precondition",
    message: `sequence ${latest + 1n} is ahead of the change log (at ${latest})`,
  });
  const scope = (consumer: string, resources: string[]) =>
    failure(acknowledge(sync, { consumer, sequence: latest, failures: resources.map((r) => f(r)) })).then((e) => e.violations);
  const outside = (i: number, resource: string, consumer: string, where: string) => ({
    field: `failures[${i}].resource`,
    description: `"${resource}" is not in the scope of ${consumer} (${where}), now or at sequence ${latest}`,
  });
  expect(await scope("consumers/edge", [PROJECT, CLOUD])).toEqual([outside(1, CLOUD, "consumers/edge", `under ${CLOUD}, of type project`)]);
  expect(await scope("consumers/edge", [OTHER])).toEqual([outside(0, OTHER, "consumers/edge", `under ${CLOUD}, of type project`)]);
  await register(sync, { name: "consumers/cloud", subtree: CLOUD });
  expect(await scope("consumers/cloud", [OTHER, PROJECT])).toEqual([outside(0, OTHER, "consumers/cloud", `under ${CLOUD}`)]);
  await register(sync, { name: "consumers/clouds", resourceTypes: ["cloud", "organization"] });
  expect(await scope("consumers/clouds", [CLOUD, PROJECT])).toEqual([outside(1, PROJECT, "consumers/clouds", "every resource, of type cloud, organization")]);
  expect((await get(sync, "consumers/edge")).acknowledgedSequence).toBe(0n);

  // At every bound: two failures and two resolved, a message of exactly the limit, a failure at sequence 1 and at the
  // acknowledged one, an acknowledgement of sequence 0.
  expect((await acknowledge(sync, { consumer: "consumers/all", sequence: 0n })).consumer).toMatchObject({ acknowledgedSequence: 0n });
  const ok = await acknowledge(sync, { consumer: "consumers/edge", sequence: latest, failures: [f(PROJECT, 1n, "x".repeat(10)), f(PROJECT)], resolved: [OTHER, CLOUD] });
  expect(ok.consumer).toMatchObject({ acknowledgedSequence: latest, lagSequences: 0n, failureCount: 1 });
  // A consumer of every resource may report a failure anywhere.
  const anywhere = await acknowledge(sync, { consumer: "consumers/all", sequence: latest, failures: [f(OTHER)] });
  expect(anywhere.consumer!.failureCount).toBe(1);
});

test("a consumer over its failure bound (the bound lowered since) may acknowledge without adding failures, not add one", async () => {
  const roomy = syncOver({ failuresPerConsumer: 3 });
  await register(roomy, { name: "consumers/edge" });
  const latest = BigInt(await store.latestSequence());
  const f = (resource: string) => ({ resource, sequence: latest, message: "no" });
  await acknowledge(roomy, { consumer: "consumers/edge", sequence: latest, failures: [f(PROJECT), f(CLOUD), f(ORG)] });
  const tight = syncOver({ failuresPerConsumer: 2 });
  // The same three failures reported again, and nothing at all: still three, accepted.
  expect((await acknowledge(tight, { consumer: "consumers/edge", sequence: latest, failures: [f(PROJECT), f(CLOUD), f(ORG)] })).consumer!.failureCount).toBe(3);
  expect((await acknowledge(tight, { consumer: "consumers/edge", sequence: latest })).consumer!.failureCount).toBe(3);
  expect(await failure(acknowledge(tight, { consumer: "consumers/edge", sequence: latest, failures: [f(OTHER)] }))).toMatchObject({ code: "resource_exhausted" });
  expect((await acknowledge(tight, { consumer: "consumers/edge", sequence: latest, resolved: [ORG] })).consumer!.failureCount).toBe(2);
});

test("GetSyncStatus counts every covering consumer but names only those the caller may read, and says when it left some out", async () => {
  const sync = syncOver();
  expect(await failure(sync.status(create(GetSyncStatusRequestSchema, { resource: "nowhere" }), ADMIN))).toMatchObject({
    violations: [{ field: "resource" }],
  });
  expect((await failure(sync.status(create(GetSyncStatusRequestSchema, { resource: "projects/none" }), ADMIN))).code).toBe("not_found");
  await register(sync, { name: "consumers/edge", subtree: PROJECT });
  await register(sync, { name: "consumers/all" });
  const latest = BigInt(await store.latestSequence());
  await acknowledge(sync, { consumer: "consumers/edge", sequence: latest });
  await acknowledge(sync, { consumer: "consumers/all", sequence: latest, failures: [{ resource: PROJECT, sequence: latest, message: "could not apply" }] });
  const status = (caller: Caller) => sync.status(create(GetSyncStatusRequestSchema, { resource: PROJECT }), caller);

  const full = await status(ADMIN);
  expect(full).toMatchObject({ status: SyncStatus.FAILED, partial: false });
  expect(full.consumers.map((c) => [c.consumer, c.status, c.message, c.failedSequence])).toEqual([
    ["consumers/all", SyncStatus.FAILED, "could not apply", latest],
    ["consumers/edge", SyncStatus.SUCCESS, "", 0n],
  ]);
  expect(full.consumers[0]!.failureTime).toBeDefined();
  expect(full.consumers[1]!.failureTime).toBeUndefined();
  const partial = await status(READER);
  expect(partial).toMatchObject({ status: SyncStatus.FAILED, partial: true });
  expect(partial.consumers.map((c) => c.consumer)).toEqual(["consumers/edge"]);
});

test("withStatus hands back the same policy when its status is the one it has, a copy with the status otherwise", async () => {
  const sync = syncOver();
  const stored = (await store.getPolicy(PROJECT))!;
  const delivered = { ...stored.policy, syncStatus: SyncStatus.SUCCESS };
  expect(await sync.withStatus(stored.resource, delivered)).toBe(delivered);
  await register(sync, { name: "consumers/edge", subtree: PROJECT });
  const pending = await sync.withStatus(stored.resource, delivered);
  expect(pending).not.toBe(delivered);
  expect(pending.syncStatus).toBe(SyncStatus.PENDING);
  expect(delivered.syncStatus).toBe(SyncStatus.SUCCESS);
});

test("consumers another process changed are seen within SNAPSHOT_MS: one read of them per snapshot, not per status", async () => {
  // Date only: the store's I/O runs as usual.
  vi.useFakeTimers({ toFake: ["Date"] });
  const writer = syncOver();
  const reads: number[] = [];
  const counted = new Proxy(store, {
    get(target, method, receiver) {
      const member = Reflect.get(target, method, receiver) as unknown;
      if (method !== "consumerChanges") return typeof member === "function" ? member.bind(target) : member;
      return (version: number) => {
        reads.push(version);
        return target.consumerChanges(version);
      };
    },
  }) as Store;
  const reader = syncOver({}, counted);
  const stored = (await store.getPolicy(PROJECT))!;
  const statusNow = async () => (await reader.withStatus(stored.resource, stored.policy)).syncStatus;

  expect(await statusNow()).toBe(SyncStatus.SUCCESS);
  expect(reads.length).toBe(1);
  // Another process (another Sync on the same database) registers a consumer of the project.
  await register(writer, { name: "consumers/edge", subtree: PROJECT });
  vi.advanceTimersByTime(SNAPSHOT_MS);
  // Within the snapshot: no read, the status of the snapshot.
  expect(await statusNow()).toBe(SyncStatus.SUCCESS);
  expect(await statusNow()).toBe(SyncStatus.SUCCESS);
  expect(reads.length).toBe(1);
  vi.advanceTimersByTime(1);
  expect(await statusNow()).toBe(SyncStatus.PENDING);
  expect(await statusNow()).toBe(SyncStatus.PENDING);
  expect(reads.length).toBe(2);
  // This process's own change is seen at once, whatever the snapshot's age.
  await acknowledge(reader, { consumer: "consumers/edge", sequence: BigInt(await store.latestSequence()) });
  expect(await statusNow()).toBe(SyncStatus.SUCCESS);
});

test("a consumer write the store cannot make (the database unavailable) is UNAVAILABLE, not a missing consumer", async () => {
  await register(syncOver(), { name: "consumers/edge", subtree: PROJECT });
  const down = new Proxy(store, {
    get(target, method, receiver) {
      if (method === "writeConsumer") return () => Promise.reject(new StoreError("unavailable", "consumers/edge", "connection refused"));
      const member = Reflect.get(target, method, receiver) as unknown;
      return typeof member === "function" ? member.bind(target) : member;
    },
  }) as Store;
  const sync = syncOver({}, down);
  expect((await failure(remove(sync, "consumers/edge"))).code).toBe("unavailable");
  expect((await failure(acknowledge(sync, { consumer: "consumers/edge", sequence: 1n }))).code).toBe("unavailable");
  expect((await failure(register(sync, { name: "consumers/other", subtree: PROJECT }))).code).toBe("unavailable");
});
