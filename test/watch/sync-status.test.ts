// Sync status is computed from the consumers' acknowledgements: transitions for one and several consumers, failures
// and retries, the per-consumer detail, the ListPolicies filter, and /metrics.
import { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { SNAPSHOT_MS } from "../../src/domain/sync.js";
import { spawnServer } from "../helpers/child-server.js";
import { expectCode } from "../helpers/call-failures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";
import { CLOUD, ORG, PROJECT, grantPolicy, makeTree, watchClients } from "../helpers/watch.js";

let server: TestServer;
let sync: ReturnType<typeof watchClients>["sync"];

beforeAll(async () => {
  server = await startTestServer({ metricsPort: 0, metricsConsumerNames: true });
  await makeTree(server.connect);
  sync = watchClients(createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })).sync;
});

afterAll(async () => {
  await server?.stop();
});

const statusOf = async (resource: string) => (await server.connect.policies.getPolicy({ resource })).syncStatus;
const sequenceOf = (written: { etag: Uint8Array }) => Number(Buffer.from(written.etag).readBigUInt64BE(1));

test("no consumer: SUCCESS (nothing to deliver); one consumer: PENDING until it acknowledges, FAILED, retried", async () => {
  const written = await server.connect.policies.setPolicy({ resource: PROJECT, policy: grantPolicy("user:a@example.com") });
  expect(written.syncStatus).toBe(SyncStatus.SUCCESS);
  expect((await sync.getSyncStatus({ resource: PROJECT })).consumers).toEqual([]);

  await sync.createConsumer({ consumer: { name: "consumers/edge", subtree: CLOUD } });
  expect(await statusOf(PROJECT)).toBe(SyncStatus.PENDING);
  expect(await statusOf(ORG)).toBe(SyncStatus.SUCCESS); // outside its scope
  const seq = sequenceOf(written);
  await sync.acknowledgeChanges({ consumer: "consumers/edge", sequence: BigInt(seq - 1) });
  expect(await statusOf(PROJECT)).toBe(SyncStatus.PENDING);
  await sync.acknowledgeChanges({
    consumer: "consumers/edge",
    sequence: BigInt(seq),
    failures: [{ resource: PROJECT, sequence: BigInt(seq), message: "edge proxy rejected the config" }],
  });
  expect(await statusOf(PROJECT)).toBe(SyncStatus.FAILED);
  const detail = await sync.getSyncStatus({ resource: PROJECT });
  expect(detail).toMatchObject({ status: SyncStatus.FAILED, policySequence: BigInt(seq) });
  expect(detail.consumers[0]).toMatchObject({
    consumer: "consumers/edge",
    status: SyncStatus.FAILED,
    message: "edge proxy rejected the config",
    failedSequence: BigInt(seq),
  });
  // A retry that succeeds resolves the failure.
  await sync.acknowledgeChanges({ consumer: "consumers/edge", sequence: BigInt(seq), resolved: [PROJECT] });
  expect(await statusOf(PROJECT)).toBe(SyncStatus.SUCCESS);
  // A new revision is PENDING again; a failure of an older revision no longer counts.
  await sync.acknowledgeChanges({
    consumer: "consumers/edge",
    sequence: BigInt(seq),
    failures: [{ resource: PROJECT, sequence: BigInt(seq), message: "old" }],
  });
  const next = await server.connect.policies.setPolicy({ resource: PROJECT, policy: grantPolicy("user:b@example.com") });
  expect(next.syncStatus).toBe(SyncStatus.PENDING);
  await sync.acknowledgeChanges({ consumer: "consumers/edge", sequence: BigInt(sequenceOf(next)) });
  expect(await statusOf(PROJECT)).toBe(SyncStatus.SUCCESS);
  await sync.deleteConsumer({ name: "consumers/edge" });
});

test("several consumers: FAILED beats PENDING beats SUCCESS; the ListPolicies filter and effective policies agree", async () => {
  await sync.createConsumer({ consumer: { name: "consumers/a", subtree: ORG } });
  await sync.createConsumer({ consumer: { name: "consumers/b", resourceTypes: ["project"] } });
  const written = await server.connect.policies.setPolicy({ resource: PROJECT, policy: grantPolicy("user:c@example.com") });
  const cloud = await server.connect.policies.setPolicy({ resource: CLOUD, policy: grantPolicy("user:c@example.com") });
  const seq = sequenceOf(cloud);
  expect(await statusOf(PROJECT)).toBe(SyncStatus.PENDING);
  await sync.acknowledgeChanges({ consumer: "consumers/a", sequence: BigInt(seq) });
  expect(await statusOf(CLOUD)).toBe(SyncStatus.SUCCESS); // b does not cover clouds
  expect(await statusOf(PROJECT)).toBe(SyncStatus.PENDING); // b has not acknowledged
  const listed = async (...syncStatuses: SyncStatus[]) =>
    (await server.connect.policies.listPolicies({ resourceType: "project", syncStatuses })).resourcePolicies.map((p) => p.resource);
  expect(await listed(SyncStatus.PENDING, SyncStatus.FAILED)).toEqual([PROJECT]);
  expect(await listed(SyncStatus.SUCCESS)).toEqual([]);
  await sync.acknowledgeChanges({
    consumer: "consumers/b",
    sequence: BigInt(seq),
    failures: [{ resource: PROJECT, sequence: BigInt(sequenceOf(written)), message: "no" }],
  });
  expect(await statusOf(PROJECT)).toBe(SyncStatus.FAILED);
  expect(await listed(SyncStatus.FAILED)).toEqual([PROJECT]);
  const effective = await server.connect.policies.lookupEffectivePolicy({ resource: PROJECT });
  expect(effective.policies.map((p) => [p.resource, p.policy!.syncStatus])).toEqual([
    [PROJECT, SyncStatus.FAILED],
    [CLOUD, SyncStatus.SUCCESS],
  ]);
  const detail = await sync.getSyncStatus({ resource: PROJECT });
  expect(detail.consumers.map((c) => [c.consumer, c.status])).toEqual([
    ["consumers/a", SyncStatus.SUCCESS],
    ["consumers/b", SyncStatus.FAILED],
  ]);
  // A consumer that acknowledged nothing lags by the whole log, aged by its first change (the organization's creation).
  await sync.createConsumer({ consumer: { name: "consumers/late", subtree: ORG } });
  const metrics = await (await fetch(server.metricsUrl!)).text();
  // Consumer names are tenants' data: this server shows them with --metrics-consumer-names, on its metrics port; every
  // server shows how many consumers there are and the worst lag (test/security/leaks.test.ts).
  expect(metrics).toMatch(/^policy_consumers 3$/m);
  expect(metrics).toContain(`policy_consumer_lag_max_sequences ${seq}\n`);
  expect(metrics).toMatch(/policy_consumer_lag_sequences\{consumer="consumers\/a"\} 0/);
  expect(metrics).toMatch(/policy_consumer_lag_seconds\{consumer="consumers\/b"\} 0\n/);
  expect(metrics).toContain(`policy_consumer_lag_sequences{consumer="consumers/late"} ${seq}\n`);
  const lateSeconds = Number(/policy_consumer_lag_seconds\{consumer="consumers\/late"\} (\S+)/.exec(metrics)![1]);
  expect(lateSeconds).toBeGreaterThan(0);
  await sync.deleteConsumer({ name: "consumers/late" });
  const consumer = await sync.getConsumer({ name: "consumers/b" });
  expect(consumer).toMatchObject({ acknowledgedSequence: BigInt(seq), lagSequences: 0n, failureCount: 1 });
  expect((await sync.listConsumers({})).consumers.map((c) => c.name)).toEqual(["consumers/a", "consumers/b"]);
  await sync.deleteConsumer({ name: "consumers/a" });
  await sync.deleteConsumer({ name: "consumers/b" });
  expect(await statusOf(PROJECT)).toBe(SyncStatus.SUCCESS);
});

test("bad consumer requests: names, duplicates, unknown consumers, acknowledgements ahead of the log", async () => {
  await expectCode(sync.createConsumer({ consumer: { name: "Consumers/X" } }), Code.InvalidArgument);
  await sync.createConsumer({ consumer: { name: "consumers/dup" } });
  await expectCode(sync.createConsumer({ consumer: { name: "consumers/dup" } }), Code.AlreadyExists);
  await expectCode(sync.getConsumer({ name: "consumers/none" }), Code.NotFound);
  await expectCode(sync.acknowledgeChanges({ consumer: "consumers/none", sequence: 1n }), Code.NotFound);
  await expectCode(sync.acknowledgeChanges({ consumer: "consumers/dup", sequence: 1_000_000n }), Code.FailedPrecondition);
  await sync.deleteConsumer({ name: "consumers/dup" });
  await expectCode(sync.deleteConsumer({ name: "consumers/dup" }), Code.NotFound);
});

test("consumers registered and acknowledging through another server process on the same database: this one's sync status follows", async () => {
  // Each process reads the consumers at most SNAPSHOT_MS old; its own changes at once (the tests above), another
  // process's within the snapshot's age: waited for here, not timed.
  const other = await spawnServer(server.db);
  try {
    const otherSync = watchClients(createConnectTransport({ baseUrl: other.url, httpVersion: "1.1" })).sync;
    const written = await server.connect.policies.setPolicy({ resource: PROJECT, policy: grantPolicy("user:o@example.com") });
    await otherSync.createConsumer({ consumer: { name: "consumers/elsewhere", subtree: CLOUD } });
    await waitFor(async () => (await statusOf(PROJECT)) === SyncStatus.PENDING, `PENDING here after a consumer registered elsewhere (snapshot ${SNAPSHOT_MS} ms)`);
    await otherSync.acknowledgeChanges({ consumer: "consumers/elsewhere", sequence: BigInt(sequenceOf(written)) });
    await waitFor(async () => (await statusOf(PROJECT)) === SyncStatus.SUCCESS, "SUCCESS here after the consumer acknowledged elsewhere");
    await otherSync.deleteConsumer({ name: "consumers/elsewhere" });
    await waitFor(async () => (await sync.listConsumers({})).consumers.length === 0, "the consumer deleted elsewhere gone here");
  } finally {
    await other.stop();
  }
});
