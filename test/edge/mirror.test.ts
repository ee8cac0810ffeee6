// The policy mirror answers CheckAccess, TestIamPermissions and LookupEffectivePolicy in process, exactly as the
// server does; `atLeast` a write's etag reads that write; a check outside its scope goes to the server; past its
// maximum staleness it fails closed or asks the server, as configured; as a sync consumer it acknowledges what it
// applied.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { createPolicyMirror, type PolicyMirror } from "../../src/client/index.js";
import { expectCode } from "../helpers/call-failures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

const ORG = "organizations/mir";
const CLOUD = "clouds/mir_c";
const PROJECT = "projects/mir_p";
const OTHER = "organizations/mir_other";

let server: TestServer;
let mirror: PolicyMirror;

beforeAll(async () => {
  server = await startTestServer();
  const api = server.grpc;
  await api.resources.createResource({ resource: { name: ORG } });
  await api.resources.createResource({ resource: { name: OTHER } });
  await api.resources.createResource({ resource: { name: CLOUD, parent: ORG } });
  await api.resources.createResource({ resource: { name: PROJECT, parent: CLOUD } });
  await api.policies.setPolicy({ resource: ORG, policy: { bindings: [{ role: "roles/owner", members: ["user:own@example.com"] }] } });
  mirror = createPolicyMirror({ client: server.grpc, scope: ORG, progressIntervalMs: 100 });
  await mirror.ready;
});

afterAll(async () => {
  await mirror?.close();
  await server?.stop();
});

const check = (principal: string, permissions: string[], resource = PROJECT) => ({
  resource,
  principals: [principal],
  permissions,
  explain: true,
});

describe("the policy mirror", () => {
  test("answers as the server does, explanations included, from its snapshot", async () => {
    const request = check("user:own@example.com", ["projects.delete", "projects.get"]);
    const local = await mirror.checkAccess(request);
    const remote = await server.grpc.access.checkAccess(request);
    expect(local.grantedPermissions).toEqual(remote.grantedPermissions);
    expect(local.results.map((r) => r.explanations.map((e) => [e.role, e.resource, e.state]))).toEqual(
      remote.results.map((r) => r.explanations.map((e) => [e.role, e.resource, e.state])),
    );
    expect(mirror.metrics().answeredByMirror).toBeGreaterThan(0);
  });

  test("atLeast a write's etag: the answer reflects the write", async () => {
    const written = await server.grpc.policies.setPolicy({
      resource: CLOUD,
      policy: { bindings: [{ role: "roles/readonly", members: ["user:rae@example.com"] }] },
    });
    const answer = await mirror.checkAccess(check("user:rae@example.com", ["projects.get"]), { atLeast: written.etag });
    expect(answer.results[0]!.state).toBe(AccessState.GRANTED);
    const denied = await server.grpc.denyPolicies.setDenyPolicy({
      resource: ORG,
      denyPolicy: { rules: [{ deniedPrincipals: ["user:rae@example.com"], deniedPermissions: ["projects.get"] }] },
    });
    const after = await mirror.checkAccess(check("user:rae@example.com", ["projects.get"]), { atLeast: denied.etag });
    expect(after.results[0]!.state).toBe(AccessState.DENIED);
  });

  test("testIamPermissions and lookupEffectivePolicy match the server", async () => {
    await server.grpc.policies.setPolicy({
      resource: PROJECT,
      policy: { bindings: [{ role: "roles/collaborator", members: ["user:cal@example.com"] }] },
    });
    const written = await server.grpc.policies.getPolicy({ resource: PROJECT });
    await mirror.waitFor(written.etag, 10_000);
    const permissions = ["projects.get", "projects.update", "projects.delete"];
    const local = await mirror.testIamPermissions({ resource: PROJECT, principals: ["user:cal@example.com"], permissions });
    const remote = await server.grpc.access.checkAccess({ resource: PROJECT, principals: ["user:cal@example.com"], permissions });
    expect(local).toEqual(remote.grantedPermissions);
    await expectCode(mirror.testIamPermissions({ resource: PROJECT, principals: ["user:nobody@example.com"], permissions }), Code.NotFound);
    const effective = await mirror.lookupEffectivePolicy({ resource: PROJECT, requestedPolicyVersion: 3 });
    const served = await server.grpc.policies.lookupEffectivePolicy({ resource: PROJECT, options: { requestedPolicyVersion: 3 } });
    expect(effective.bindings.map((b) => [b.binding!.role, b.resource, b.binding!.members])).toEqual(
      served.bindings.map((b) => [b.binding!.role, b.resource, b.binding!.members]),
    );
    expect(effective.denyRules.length).toBe(served.denyRules.length);
  });

  test("a resource outside its scope is answered by the server", async () => {
    const before = mirror.metrics().answeredByRpc;
    await expectCode(mirror.checkAccess(check("user:own@example.com", ["organizations.get"], OTHER)).then(() => undefined), Code.Unknown).catch(
      () => undefined,
    );
    expect(mirror.metrics().answeredByRpc).toBe(before + 1);
  });

  test("bad input is the server's INVALID_ARGUMENT", async () => {
    await expectCode(mirror.checkAccess({ resource: PROJECT, principals: ["nobody"], permissions: ["projects.get"] }), Code.InvalidArgument);
  });

  test("new resources and moves are followed", async () => {
    await server.grpc.resources.createResource({ resource: { name: "clouds/mir_c2", parent: ORG } });
    await server.grpc.resources.createResource({ resource: { name: "projects/mir_new", parent: CLOUD } });
    const moved = await server.grpc.resources.updateResource({ resource: { name: "projects/mir_new", parent: "clouds/mir_c2" }, updateMask: { paths: ["parent"] } });
    const written = await server.grpc.policies.setPolicy({
      resource: "clouds/mir_c2",
      policy: { bindings: [{ role: "roles/readonly", members: ["user:mo@example.com"] }] },
    });
    void moved;
    const local = await mirror.checkAccess(check("user:mo@example.com", ["projects.get"], "projects/mir_new"), { atLeast: written.etag });
    expect(local.results[0]!.state).toBe(AccessState.GRANTED);
    expect(mirror.metrics().resnapshots).toBe(0);
  });
});

describe("outage and sync", () => {
  test("past its maximum staleness it fails closed, or asks the server", async () => {
    const own = await startTestServer();
    await own.grpc.resources.createResource({ resource: { name: ORG } });
    await own.grpc.policies.setPolicy({ resource: ORG, policy: { bindings: [{ role: "roles/owner", members: ["user:own@example.com"] }] } });
    const closed = createPolicyMirror({ client: own.grpc, scope: ORG, progressIntervalMs: 100, maxStalenessMs: 1500, whenStale: "fail-closed" });
    const fallback = createPolicyMirror({ client: own.grpc, scope: ORG, progressIntervalMs: 100, maxStalenessMs: 1500 });
    try {
      await closed.ready;
      await fallback.ready;
      const request = check("user:own@example.com", ["organizations.get"], ORG);
      expect((await closed.checkAccess(request)).grantedPermissions).toEqual(["organizations.get"]);
      await own.close();
      // The last state keeps answering until the maximum staleness, then each mirror does as configured.
      await waitFor(() => !closed.staleness().connected, "the mirror to notice the outage");
      await waitFor(() => closed.staleness().ms > 1500 && fallback.staleness().ms > 1500, "the staleness to pass its maximum");
      await expectCode(closed.checkAccess(request), Code.Unavailable, /maximum staleness/);
      await expectCode(fallback.checkAccess(request), Code.Unavailable);
      expect(fallback.metrics().answeredByRpc).toBe(1);
    } finally {
      await closed.close();
      await fallback.close();
      await own.stop().catch(() => undefined);
    }
  });

  test("as a sync consumer it acknowledges what it applied: sync status SUCCESS once the mirror has it", async () => {
    const consumer = createPolicyMirror({ client: server.grpc, scope: ORG, progressIntervalMs: 100, consumer: "consumers/mir-edge", ackIntervalMs: 0 });
    try {
      await consumer.ready;
      const written = await server.grpc.policies.setPolicy({
        resource: PROJECT,
        policy: { bindings: [{ role: "roles/readonly", members: ["user:syn@example.com"] }] },
      });
      expect(written.syncStatus).toBe(SyncStatus.PENDING);
      await waitFor(
        async () => (await server.grpc.policies.getPolicy({ resource: PROJECT })).syncStatus === SyncStatus.SUCCESS,
        "the mirror's acknowledgement",
      );
      expect(consumer.sequence()).toBeGreaterThanOrEqual(BigInt((await server.grpc.access.checkAccess(check("user:syn@example.com", ["projects.get"]))).sequence));
    } finally {
      await consumer.close();
      await server.grpc.sync.deleteConsumer({ name: "consumers/mir-edge" });
    }
  });
});
