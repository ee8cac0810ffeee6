// Watch over real clients: what a change says, filters, progress, resumption and the too-old error.
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ChangeKind } from "../../gen/policy/v1/watch_service_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { CLOUD, ORG, PROJECT, follow, grantPolicy, makeTree, watchClients } from "../helpers/watch.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";

let server: TestServer;
let transports: Record<string, ReturnType<typeof createConnectTransport>>;

beforeAll(async () => {
  server = await startTestServer();
  await makeTree(server.connect);
  transports = {
    connect: createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
    "grpc-web": createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" }),
    grpc: createGrpcTransport({ baseUrl: server.url }),
    "grpc-js port": createGrpcTransport({ baseUrl: `http://${server.grpcAddress}` }),
  };
});

afterAll(async () => {
  await server?.stop();
});

describe.each(["connect", "grpc-web", "grpc", "grpc-js port"])("over %s", (protocol) => {
  test("a watcher that starts now gets a progress first, then every change in order with what it says", async () => {
    const { watch } = watchClients(transports[protocol]!);
    const f = follow(watch);
    await f.until((x) => x.messages.length > 0);
    expect(f.messages[0]!.event.case).toBe("progress");
    const start = Number((f.messages[0]!.event.value as { sequence: bigint }).sequence);
    const project = `projects/w${protocol.replace(/\W/g, "")}`;
    await server.connect.resources.createResource({ resource: { name: project, parent: CLOUD } });
    const set = await server.connect.policies.setPolicy({ resource: project, policy: grantPolicy("user:ada@example.com") });
    await server.connect.resources.updateResource({ resource: { name: project, parent: ORG }, updateMask: { paths: ["parent"] } });
    await server.connect.policies.deletePolicy({ resource: project });
    await server.connect.resources.deleteResource({ name: project });
    await f.until((x) => x.changes().length >= 5);
    await f.stop();
    const changes = f.changes();
    expect(f.sequences()).toEqual([start + 1, start + 2, start + 3, start + 4, start + 5]);
    expect(changes.map((c) => c.kind)).toEqual([
      ChangeKind.RESOURCE_CREATED,
      ChangeKind.POLICY_SET,
      ChangeKind.RESOURCE_MOVED,
      ChangeKind.POLICY_DELETED,
      ChangeKind.RESOURCE_DELETED,
    ]);
    expect(changes[0]).toMatchObject({ resource: project, resourceType: "project", parent: CLOUD, principal: "anonymous" });
    expect(changes[1]!.policy!.bindings[0]!.members).toEqual(["user:ada@example.com"]);
    expect(Buffer.from(changes[1]!.policy!.etag).equals(Buffer.from(set.etag))).toBe(true);
    expect(changes[2]).toMatchObject({ parent: ORG, previousParent: CLOUD });
    expect(changes[4]).toMatchObject({ parent: ORG });
    expect(changes[0]!.commitTime).toBeDefined();
  });
});

test("filters by subtree, type and kind; progress carries the position while nothing matches", async () => {
  const { watch } = watchClients(transports.connect!);
  const f = follow(watch, {
    subtree: CLOUD,
    resourceTypes: ["project"],
    kinds: [ChangeKind.POLICY_SET],
    progressInterval: { nanos: 200_000_000 },
  });
  await f.until((x) => x.messages.length > 0);
  await server.connect.policies.setPolicy({ resource: ORG, policy: grantPolicy("user:a@example.com") });
  await server.connect.policies.setPolicy({ resource: CLOUD, policy: grantPolicy("user:a@example.com") });
  const matching = await server.connect.policies.setPolicy({ resource: PROJECT, policy: grantPolicy("user:b@example.com") });
  const after = Number((await server.connect.policies.deletePolicy({ resource: PROJECT })).sequence);
  await f.until((x) => x.changes().length === 1);
  await f.until((x) => x.messages.some((m) => m.event.case === "progress" && Number(m.event.value.sequence) >= after));
  await f.stop();
  expect(f.changes().map((c) => c.resource)).toEqual([PROJECT]);
  expect(Buffer.from(f.changes()[0]!.policy!.etag).equals(Buffer.from(matching.etag))).toBe(true);
});

test("a resume gets exactly the changes after the sequence; bad requests are INVALID_ARGUMENT", async () => {
  const { watch } = watchClients(transports.grpc!);
  const first = follow(watch, { afterSequence: 0n });
  await first.until((x) => x.changes().length >= 6);
  await first.stop();
  const all = first.sequences();
  expect(all.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
  const resumed = follow(watch, { afterSequence: 3n });
  await resumed.until((x) => x.changes().length >= 3);
  await resumed.stop();
  expect(resumed.sequences().slice(0, 3)).toEqual([4, 5, 6]);
  for (const bad of [{ subtree: "nope" }, { resourceTypes: ["galaxy"] }, { kinds: [0] }, { progressInterval: { nanos: 1000 } }]) {
    const f = follow(watch, bad);
    await f.ended;
    expect(ConnectError.from(f.error()).code).toBe(Code.InvalidArgument);
  }
  const ahead = follow(watch, { afterSequence: 1_000_000n });
  await ahead.ended;
  expect(ConnectError.from(ahead.error()).code).toBe(Code.OutOfRange);
});

test("deny policies and custom roles are changes too, with what they now say", async () => {
  const { watch } = watchClients(transports.grpc!);
  const f = follow(watch, { subtree: ORG });
  await f.until((x) => x.messages.length > 0);
  const rule = { deniedPrincipals: ["user:mallory@example.com"], deniedPermissions: ["projects.delete"] };
  const deny = await server.connect.denyPolicies.setDenyPolicy({ resource: PROJECT, denyPolicy: { rules: [rule] } });
  await server.connect.denyPolicies.deleteDenyPolicy({ resource: PROJECT });
  const role = await server.connect.roles.createRole({ parent: ORG, roleId: "watcher", role: { includedPermissions: ["projects.get"] } });
  await server.connect.roles.deleteRole({ name: role.name });
  await f.until((x) => x.changes().length >= 4);
  await f.stop();
  const [set, deleted, created, removed] = f.changes();
  expect([set!.kind, deleted!.kind, created!.kind, removed!.kind]).toEqual([
    ChangeKind.DENY_POLICY_SET,
    ChangeKind.DENY_POLICY_DELETED,
    ChangeKind.ROLE_CHANGED,
    ChangeKind.ROLE_CHANGED,
  ]);
  expect(set!.resource).toBe(PROJECT);
  expect(set!.denyPolicy?.rules[0]?.deniedPrincipals).toEqual(["user:mallory@example.com"]);
  expect(set!.denyPolicy?.etag).toEqual(deny.etag);
  expect(created!.resource).toBe(ORG);
  expect(created!.role?.name).toBe(role.name);
  expect(removed!.role?.deleted).toBe(true);
});

test("a resume from before the retained log is OUT_OF_RANGE naming the oldest sequence", async () => {
  const other = new SqliteStore(server.db);
  const latest = await other.latestSequence();
  await other.pruneChanges({ keepLast: 2 });
  await other.close();
  const { watch } = watchClients(transports.connect!);
  const f = follow(watch, { afterSequence: 1n });
  await f.ended;
  const error = ConnectError.from(f.error());
  expect(error.code).toBe(Code.OutOfRange);
  expect(error.rawMessage).toContain(`starts at sequence ${latest - 1}`);
  const ok = follow(watch, { afterSequence: BigInt(latest - 2) });
  await ok.until((x) => x.changes().length === 2);
  await ok.stop();
  expect(ok.sequences()).toEqual([latest - 1, latest]);
});
