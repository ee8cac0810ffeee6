// The Sync facade over a real store: the sync status of a resource looks only at the consumers that cover it,
// however many other organizations register; and a consumer keeps at most its bound of failures (a small bound here;
// test/watch/consumer-bounds.test.ts tries the others at their defaults through the API).
import { create } from "@bufbuild/protobuf";
import { afterEach, expect, test } from "vitest";
import {
  AcknowledgeChangesRequestSchema,
  CreateConsumerRequestSchema,
  GetConsumerRequestSchema,
  type Consumer,
} from "../../gen/policy/v1/sync_service_pb.js";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { ANONYMOUS, Authorizer } from "../../src/domain/access/authorizer.js";
import { CONSUMER_LIMITS, type ConsumerLimits } from "../../src/domain/consumer-limits.js";
import { Sync } from "../../src/domain/sync.js";
import { cachingStore } from "../../src/store/caching-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { defaultSchema } from "../helpers/fixtures.js";
import { createResource } from "../../src/store/store.js";

const actor = { principal: "user:test@example.com" };
const opened: Store[] = [];

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function storeWith(resources: [name: string, parent: string][]): Promise<Store> {
  const store = cachingStore(new SqliteStore(":memory:"));
  opened.push(store);
  for (const [name, parent] of resources) {
    await createResource(store, { name, parent, type: defaultSchema.typesByCollection.get(name.split("/")[0]!)!.name, displayName: "" }, actor);
  }
  return store;
}

/** Development mode: every call allowed, so these tests are about consumers alone. */
function syncOver(store: Store, limits: ConsumerLimits = CONSUMER_LIMITS): Sync {
  return new Sync(store, defaultSchema, new Authorizer(new Access(store, defaultSchema), defaultSchema, new Set(), false), limits);
}

/**
 * `store`, with every consumer it hands out watched: `visited` collects the names of the consumers whose fields are
 * read from then on.
 */
function watchingConsumers(store: Store): { store: Store; visited: Set<string> } {
  const visited = new Set<string>();
  const watched = <T extends object>(consumer: T & { name: string }): T =>
    new Proxy(consumer, {
      get(target, field, receiver) {
        visited.add(target.name);
        return Reflect.get(target, field, receiver) as unknown;
      },
    });
  const wrapResult = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map((c: { name: string }) => watched(c));
    if (value && typeof value === "object" && "changed" in value) {
      const changes = value as { changed: { name: string }[] };
      return { ...changes, changed: changes.changed.map((c) => watched(c)) };
    }
    return value;
  };
  const proxy = new Proxy(store, {
    get(target, method, receiver) {
      const member = Reflect.get(target, method, receiver) as unknown;
      if (method !== "listConsumers" && method !== "consumerChanges") return member;
      return async (...args: unknown[]) => wrapResult(await (member as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
  return { store: proxy, visited };
}

test("the sync status of a resource reads no consumer of another organization, only those that cover it", async () => {
  const clouds = Array.from({ length: 40 }, (_, i) => `clouds/a${i}`);
  const base = await storeWith([
    ["organizations/a", ""],
    ...clouds.map((cloud): [string, string] => [cloud, "organizations/a"]),
    ["projects/in-a", clouds[7]!],
    ["organizations/b", ""],
    ["projects/in-b", "organizations/b"],
  ]);
  const { store, visited } = watchingConsumers(base);
  const sync = syncOver(store);
  const register = (name: string, subtree: string) => sync.create(create(CreateConsumerRequestSchema, { consumer: { name, subtree } }), ANONYMOUS);
  for (const [i, cloud] of clouds.entries()) await register(`consumers/a-cloud-${i}`, cloud);
  for (let i = 0; i < 10; i++) await register(`consumers/a-org-${i}`, "organizations/a");
  await register("consumers/b", "organizations/b");

  const inB = (await base.getPolicy("projects/in-b"))!;
  expect((await sync.withStatus(inB.resource, inB.policy)).syncStatus).toBe(SyncStatus.PENDING);
  visited.clear();
  const ofB = await sync.deliveries(inB.resource, inB.policy.etag);
  expect(ofB.deliveries.map((d) => d.consumer.name)).toEqual(["consumers/b"]);
  expect([...visited]).toEqual(["consumers/b"]);

  const inA = (await base.getPolicy("projects/in-a"))!;
  visited.clear();
  const ofA = await sync.deliveries(inA.resource, inA.policy.etag);
  const coveringA = ["consumers/a-cloud-7", ...Array.from({ length: 10 }, (_, i) => `consumers/a-org-${i}`)];
  expect(ofA.deliveries.map((d) => d.consumer.name)).toEqual(coveringA);
  expect([...visited].sort()).toEqual(coveringA);
});

test("a consumer keeps at most its bound of failures: past it RESOURCE_EXHAUSTED and nothing stored; resolving makes room", async () => {
  const projects = ["projects/p0", "projects/p1", "projects/p2", "projects/p3"];
  const store = await storeWith([["organizations/o", ""], ["clouds/c", "organizations/o"], ...projects.map((p): [string, string] => [p, "clouds/c"])]);
  const sync = syncOver(store, { ...CONSUMER_LIMITS, failuresPerConsumer: 3 });
  await sync.create(create(CreateConsumerRequestSchema, { consumer: { name: "consumers/edge", subtree: "clouds/c" } }), ANONYMOUS);
  const latest = BigInt(await store.latestSequence());
  const acknowledge = async (sequence: bigint, failing: string[], resolved: string[] = []): Promise<Consumer> =>
    (await sync.acknowledge(
      create(AcknowledgeChangesRequestSchema, {
        consumer: "consumers/edge",
        sequence,
        failures: failing.map((resource) => ({ resource, sequence, message: "no" })),
        resolved,
      }),
      ANONYMOUS,
    )).consumer!;

  expect((await acknowledge(latest - 1n, projects.slice(0, 3))).failureCount).toBe(3);
  await expect(acknowledge(latest, [projects[3]!])).rejects.toMatchObject({
    code: "resource_exhausted",
    message: expect.stringMatching(/would keep 4 unresolved failures \(limit: 3 failures per consumer\)/),
  });
  const stored = await sync.get(create(GetConsumerRequestSchema, { name: "consumers/edge" }), ANONYMOUS);
  expect(stored).toMatchObject({ acknowledgedSequence: latest - 1n, failureCount: 3 });
  expect(await store.listResourceFailures(projects[3]!, ["consumers/edge"])).toEqual([]);
  expect((await acknowledge(latest, [projects[3]!], [projects[0]!])).failureCount).toBe(3);
  expect((await store.listResourceFailures(projects[3]!, ["consumers/edge"])).map((f) => f.consumer)).toEqual(["consumers/edge"]);
});
