// The SDK's watch() and runConsumer(), and the `policy watch` and `policy sync status` commands, against a real server.
import { afterAll, beforeAll, expect, test } from "vitest";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { createPolicyClient, runConsumer, watch, type PolicyClient, type WatchEvent } from "../../src/client/index.js";
import { cliFor } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";
import { CLOUD, PROJECT, grantPolicy, makeTree } from "../helpers/watch.js";

let server: TestServer;
let client: PolicyClient;

beforeAll(async () => {
  server = await startTestServer();
  await makeTree(server.connect);
  client = createPolicyClient({ baseUrl: server.url, protocol: "connect" });
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

test("watch() yields every change in order and the consumer runner acknowledges, reports and resolves failures", async () => {
  const abort = new AbortController();
  const events: WatchEvent[] = [];
  const following = (async () => {
    for await (const e of watch(client.watch, { afterSequence: 0n, signal: abort.signal })) events.push(e);
  })();
  // The project's change fails until the test has seen FAILED; the runner's retries then succeed.
  let failing = true;
  const applied: string[] = [];
  const consumerAbort = new AbortController();
  // A fresh consumer's Watch starts "from now": its first message (a progress) makes the runner load the snapshot.
  // Written before that, the change would be in the snapshot, not in the stream.
  let opened = false;
  const running = runConsumer(client, {
    name: "consumers/sdk",
    subtree: CLOUD,
    signal: consumerAbort.signal,
    retryIntervalMs: 300,
    snapshot: () => void (opened = true),
    apply(change) {
      if (change.resource === PROJECT && change.policy && failing) throw new Error("first try fails");
      applied.push(`${change.sequence} ${change.resource}`);
    },
  });
  running.catch(() => undefined);
  try {
    await waitFor(() => opened, "the consumer's Watch to open (its first progress message)");
    const written = await client.policies.setPolicy({ resource: PROJECT, policy: grantPolicy("user:sdk@example.com") });
    expect(written.syncStatus).toBe(SyncStatus.PENDING);
    await waitFor(
      async () => (await client.sync.getSyncStatus({ resource: PROJECT })).status === SyncStatus.FAILED,
      "the project's sync status FAILED (the consumer reported its failure)",
    );
    failing = false;
    await waitFor(
      async () => (await client.policies.getPolicy({ resource: PROJECT })).syncStatus === SyncStatus.SUCCESS,
      "the project's sync status SUCCESS (a retry applied the change)",
    );
    expect(applied.some((a) => a.endsWith(PROJECT))).toBe(true);
    consumerAbort.abort();
    await running;
    await waitFor(
      () => events.some((e) => e.kind === "change" && e.change.resource === PROJECT && !!e.change.policy),
      "the project's policy change in watch()'s stream",
    );
    abort.abort();
    await following;
    const sequences = events.filter((e) => e.kind === "change").map((e) => Number(e.sequence));
    expect(sequences).toEqual(sequences.map((_, i) => i + 1));
  } finally {
    consumerAbort.abort();
    abort.abort();
    await client.sync.deleteConsumer({ name: "consumers/sdk" }).catch(() => undefined);
  }
}, 120_000);

test("policy watch prints lines and JSON; policy sync status shows each consumer", async () => {
  const cli = cliFor(server.url);
  const lines = await cli(["watch", "--since", "0", "--limit", "2"]);
  expect(lines.code).toBe(0);
  expect(lines.stdout.trim().split("\n")).toHaveLength(2);
  expect(lines.stdout).toMatch(/^1 {2}\S+ {2}RESOURCE_CREATED {2}organizations\/acme {2}by anonymous/);
  const json = await cli(["watch", "--since", "1", "--limit", "1", "-o", "json"]);
  expect(JSON.parse(json.stdout.trim())).toMatchObject({ sequence: "2", kind: "CHANGE_KIND_RESOURCE_CREATED", resource: CLOUD });

  // A consumer of its own, that has applied the project's policy (this test does not lean on the one above).
  await client.sync.createConsumer({ consumer: { name: "consumers/cli", subtree: CLOUD } });
  try {
    await client.policies.setPolicy({ resource: PROJECT, policy: grantPolicy("user:cli@example.com") });
    const pending = await cli(["sync", "status", "--resource-type", "project", "--resource-id", "p1"]);
    expect(pending.code).toBe(0);
    expect(pending.stdout).toMatch(/consumers\/cli +PENDING/);
    const { policySequence } = await client.sync.getSyncStatus({ resource: PROJECT });
    await client.sync.acknowledgeChanges({ consumer: "consumers/cli", sequence: policySequence });
    const status = await cli(["sync", "status", "--resource-type", "project", "--resource-id", "p1"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/consumers\/cli +SUCCESS/);
  } finally {
    await client.sync.deleteConsumer({ name: "consumers/cli" });
  }
}, 120_000);
