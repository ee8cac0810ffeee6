// What a consumer's owner can make the service keep is bounded (docs/operations.md#limits): a failure must name a
// resource in the consumer's scope; an acknowledgement lists at most 1,000 failures (and resolved resources); an
// organization has at most 100 consumers, the server at most 100 without a subtree. Past a bound: RESOURCE_EXHAUSTED
// naming it, and nothing stored. (The bound on failures kept per consumer: test/domain/sync.test.ts.)
import { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { expectCode, fieldViolations } from "../helpers/call-failures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { CLOUD, ORG, PROJECT, makeTree, watchClients } from "../helpers/watch.js";

const OTHER_ORG = "organizations/other";
const THEIRS = "projects/theirs";

let server: TestServer;
let sync: ReturnType<typeof watchClients>["sync"];

beforeAll(async () => {
  server = await startTestServer();
  await makeTree(server.connect);
  await server.connect.resources.createResource({ resource: { name: OTHER_ORG } });
  await server.connect.resources.createResource({ resource: { name: THEIRS, parent: OTHER_ORG } });
  sync = watchClients(createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })).sync;
});

afterAll(async () => {
  await server?.stop();
});

/** The change log's newest sequence, as a consumer's progress tells it. */
async function latestSequence(consumer: string): Promise<bigint> {
  const { acknowledgedSequence, lagSequences } = await sync.getConsumer({ name: consumer });
  return acknowledgedSequence + lagSequences;
}

const failure = (resource: string, sequence: bigint) => ({ resource, sequence, message: "could not apply" });

test("a failure outside the consumer's subtree or types, or of no resource, is INVALID_ARGUMENT and stores nothing", async () => {
  await sync.createConsumer({ consumer: { name: "consumers/edge", subtree: CLOUD } });
  const latest = await latestSequence("consumers/edge");
  const refused = await expectCode(
    sync.acknowledgeChanges({
      consumer: "consumers/edge",
      sequence: latest,
      failures: [failure(PROJECT, latest), failure(ORG, latest), failure(THEIRS, latest), failure("projects/never", latest)],
    }),
    Code.InvalidArgument,
    /"organizations\/acme" is not in the scope of consumers\/edge \(under clouds\/c1\)/,
  );
  expect(fieldViolations(refused).map((v) => v.field)).toEqual(["failures[1].resource", "failures[2].resource", "failures[3].resource"]);
  expect(await sync.getConsumer({ name: "consumers/edge" })).toMatchObject({ acknowledgedSequence: 0n, failureCount: 0 });
  expect((await sync.getSyncStatus({ resource: PROJECT })).consumers[0]).toMatchObject({ status: SyncStatus.PENDING, message: "" });

  // Of a type the consumer does not apply.
  await sync.createConsumer({ consumer: { name: "consumers/typed", subtree: ORG, resourceTypes: ["project"] } });
  const typed = await expectCode(
    sync.acknowledgeChanges({ consumer: "consumers/typed", sequence: latest, failures: [failure(CLOUD, latest)] }),
    Code.InvalidArgument,
    /of type project/,
  );
  expect(fieldViolations(typed).map((v) => v.field)).toEqual(["failures[0].resource"]);

  // In scope, it is kept and shown.
  const acknowledged = await sync.acknowledgeChanges({ consumer: "consumers/edge", sequence: latest, failures: [failure(PROJECT, latest)] });
  expect(acknowledged.consumer).toMatchObject({ acknowledgedSequence: latest, failureCount: 1 });
  expect((await sync.getSyncStatus({ resource: PROJECT })).consumers[0]).toMatchObject({ message: "could not apply" });
  await sync.deleteConsumer({ name: "consumers/edge" });
  await sync.deleteConsumer({ name: "consumers/typed" });
});

test("a resource deleted or moved out of the subtree may be reported at the sequence of that change, not of another", async () => {
  await sync.createConsumer({ consumer: { name: "consumers/follower", subtree: CLOUD } });
  await server.connect.resources.createResource({ resource: { name: "projects/gone", parent: CLOUD } });
  await server.connect.resources.deleteResource({ name: "projects/gone" });
  const deleted = await latestSequence("consumers/follower");
  await server.connect.resources.createResource({ resource: { name: "projects/leaving", parent: CLOUD } });
  await server.connect.resources.updateResource({ resource: { name: "projects/leaving", parent: ORG }, updateMask: { paths: ["parent"] } });
  const moved = await latestSequence("consumers/follower");

  const wrong = await expectCode(
    sync.acknowledgeChanges({
      consumer: "consumers/follower",
      sequence: moved,
      failures: [failure("projects/gone", moved), failure("projects/leaving", deleted)],
    }),
    Code.InvalidArgument,
  );
  expect(fieldViolations(wrong).map((v) => v.field)).toEqual(["failures[0].resource", "failures[1].resource"]);
  expect((await sync.getConsumer({ name: "consumers/follower" })).failureCount).toBe(0);

  const acknowledged = await sync.acknowledgeChanges({
    consumer: "consumers/follower",
    sequence: moved,
    failures: [failure("projects/gone", deleted), failure("projects/leaving", moved)],
  });
  expect(acknowledged.consumer).toMatchObject({ acknowledgedSequence: moved, failureCount: 2 });
  await sync.deleteConsumer({ name: "consumers/follower" });
});

test("an acknowledgement lists at most 1,000 failures and 1,000 resolved resources: RESOURCE_EXHAUSTED, nothing stored", async () => {
  await sync.createConsumer({ consumer: { name: "consumers/chatty", subtree: ORG } });
  const latest = await latestSequence("consumers/chatty");
  const tooMany = Array.from({ length: 1001 }, () => failure(PROJECT, latest));
  const error = await expectCode(
    sync.acknowledgeChanges({ consumer: "consumers/chatty", sequence: latest, failures: tooMany }),
    Code.ResourceExhausted,
    /failures: 1001 listed \(limit: 1000 failures per acknowledgement\)/,
  );
  expect(fieldViolations(error).map((v) => v.field)).toEqual(["failures"]);
  await expectCode(
    sync.acknowledgeChanges({ consumer: "consumers/chatty", sequence: latest, resolved: Array<string>(1001).fill(PROJECT) }),
    Code.ResourceExhausted,
    /limit: 1000 resolved per acknowledgement/,
  );
  expect(await sync.getConsumer({ name: "consumers/chatty" })).toMatchObject({ acknowledgedSequence: 0n, failureCount: 0 });
  // At the bound, it passes.
  const atBound = await sync.acknowledgeChanges({ consumer: "consumers/chatty", sequence: latest, failures: tooMany.slice(1) });
  expect(atBound.consumer!.failureCount).toBe(1);
  await sync.deleteConsumer({ name: "consumers/chatty" });
});

test("an organization has at most 100 consumers, the server 100 without a subtree: RESOURCE_EXHAUSTED, nothing stored", async () => {
  const crowded = "organizations/crowded";
  await server.connect.resources.createResource({ resource: { name: crowded } });
  await server.connect.resources.createResource({ resource: { name: "clouds/crowded", parent: crowded } });
  const names = Array.from({ length: 100 }, (_, i) => `consumers/crowd-${i}`);
  await Promise.all(names.map((name, i) => sync.createConsumer({ consumer: { name, subtree: i % 2 ? crowded : "clouds/crowded" } })));
  await expectCode(
    sync.createConsumer({ consumer: { name: "consumers/one-more", subtree: "clouds/crowded" } }),
    Code.ResourceExhausted,
    /organization "organizations\/crowded" has 100 consumers.*\(limit: 100 consumers per organization\)/,
  );
  await expectCode(sync.getConsumer({ name: "consumers/one-more" }), Code.NotFound);
  // Another organization is not affected; a deletion makes room.
  await sync.createConsumer({ consumer: { name: "consumers/elsewhere", subtree: OTHER_ORG } });
  await sync.deleteConsumer({ name: names[0]! });
  await sync.createConsumer({ consumer: { name: "consumers/one-more", subtree: "clouds/crowded" } });

  const unscoped = Array.from({ length: 100 }, (_, i) => `consumers/everything-${i}`);
  await Promise.all(unscoped.map((name) => sync.createConsumer({ consumer: { name } })));
  await expectCode(
    sync.createConsumer({ consumer: { name: "consumers/everything-more" } }),
    Code.ResourceExhausted,
    /the server has 100 consumers without a subtree.*\(limit: 100 consumers without a subtree per server\)/,
  );
  const listed = (await sync.listConsumers({})).consumers.map((c) => c.name);
  expect(listed.filter((name) => name.startsWith("consumers/everything"))).toHaveLength(100);
  expect(listed).not.toContain("consumers/everything-more");
  await expectCode(
    sync.createConsumer({ consumer: { name: "consumers/nowhere", subtree: "clouds/absent" } }),
    Code.NotFound,
  );
});
