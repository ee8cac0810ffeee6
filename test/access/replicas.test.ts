// Two server processes on the same database file: each sees the other's acknowledged writes in its next read —
// checks, GetPolicy, LookupEffectivePolicy — though both cache decoded policies (the store finds other processes'
// commits by PRAGMA data_version and evicts what they changed); min_sequence is honoured across them too.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  AccessState,
  apiClients,
  setBindings,
  startAccessServer,
  uniqueId,
  withSequence,
  type AccessTestServer,
  type Api,
} from "./support.js";
import { spawnServer, type ChildServer } from "../helpers/child-server.js";

let first: AccessTestServer;
let replica: ChildServer;
let second: Api;
beforeAll(async () => {
  first = await startAccessServer();
  replica = await spawnServer(first.server.db);
  second = apiClients(replica.url, { protocol: "grpc" });
});
afterAll(async () => {
  await replica?.stop();
  await first?.stop();
});

/** Writes through `api` a new organization whose owner is `member`; returns its name and the write's sequence. */
async function newOrganizationOwnedBy(api: Api, member: string): Promise<{ org: string; sequence: bigint }> {
  const org = `organizations/${uniqueId("org_")}`;
  await api.resources.createResource({ resource: { name: org } });
  const { sequence } = await withSequence((o) =>
    api.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: [member] }] } }, o),
  );
  return { org, sequence };
}

async function isGranted(api: Api, resource: string, member: string, minSequence = 0n): Promise<boolean> {
  const response = await api.access.checkAccess({ resource, principals: [member], permissions: ["projects.delete"], minSequence });
  return response.results[0]!.state === AccessState.GRANTED;
}

describe("read-your-writes across replicas", () => {
  test("a write through the first server is seen by the second when checked with its min_sequence", async () => {
    for (let round = 0; round < 10; round++) {
      const member = `user:${uniqueId("rw")}@example.com`;
      const { org, sequence } = await newOrganizationOwnedBy(first.grpc, member);
      const response = await second.access.checkAccess({
        resource: org,
        principals: [member],
        permissions: ["projects.delete"],
        minSequence: sequence,
      });
      expect(response.grantedPermissions, `round ${round}`).toEqual(["projects.delete"]);
      expect(response.sequence).toBeGreaterThanOrEqual(sequence);
    }
  });

  test("and the other way round: a write through the second server, checked on the first", async () => {
    const member = `user:${uniqueId("rw")}@example.com`;
    const { org, sequence } = await newOrganizationOwnedBy(second, member);
    expect(await isGranted(first.connect, org, member, sequence)).toBe(true);
  });

  test("a revocation through one server is seen by the other with its min_sequence", async () => {
    const member = `user:${uniqueId("rw")}@example.com`;
    const { org, sequence } = await newOrganizationOwnedBy(first.grpc, member);
    expect(await isGranted(second, org, member, sequence)).toBe(true);
    const revoked = await withSequence((o) => first.grpc.policies.deletePolicy({ resource: org }, o));
    expect(revoked.response.sequence).toBe(revoked.sequence);
    expect(await isGranted(second, org, member, revoked.sequence)).toBe(false);
  });

  test("a resource moved through one server has its new ancestors on the other", async () => {
    const member = `user:${uniqueId("rw")}@example.com`;
    const { org: from } = await newOrganizationOwnedBy(first.grpc, "user:someone@example.com");
    const { org: to } = await newOrganizationOwnedBy(first.grpc, member);
    const project = `projects/${uniqueId("prj_")}`;
    await first.grpc.resources.createResource({ resource: { name: project, parent: from } });
    const moved = await withSequence((o) =>
      first.grpc.resources.updateResource({ resource: { name: project, parent: to }, updateMask: { paths: ["parent"] } }, o),
    );
    expect(await isGranted(second, project, member, moved.sequence)).toBe(true);
  });

  test("a min_sequence neither server has reached is FAILED_PRECONDITION on the replica too", async () => {
    const { org, sequence } = await newOrganizationOwnedBy(first.grpc, "user:ada@example.com");
    await expect(isGranted(second, org, "user:ada@example.com", sequence + 1_000_000n)).rejects.toThrow(/min_sequence/);
  });
});

describe("without min_sequence: a write acknowledged by one server is seen by the other's next read", () => {
  test("a grant, then its revocation, on a resource the second server has already read (and cached)", async () => {
    for (let round = 0; round < 10; round++) {
      const member = `user:${uniqueId("fresh")}@example.com`;
      const org = `organizations/${uniqueId("org_")}`;
      await first.grpc.resources.createResource({ resource: { name: org } });
      expect(await isGranted(second, org, member)).toBe(false);
      await setBindings(first.grpc, org, { role: "roles/owner", members: [member] });
      expect(await isGranted(second, org, member), `round ${round}: grant`).toBe(true);
      await first.grpc.policies.deletePolicy({ resource: org });
      expect(await isGranted(second, org, member), `round ${round}: revocation`).toBe(false);
    }
  });

  test("GetPolicy and LookupEffectivePolicy on the second server show the first server's write at once", async () => {
    const { org } = await newOrganizationOwnedBy(first.grpc, "user:ada@example.com");
    const project = `projects/${uniqueId("prj_")}`;
    await first.grpc.resources.createResource({ resource: { name: project, parent: org } });
    for (let round = 0; round < 10; round++) {
      const member = `user:${uniqueId("fresh")}@example.com`;
      const before = await second.policies.getPolicy({ resource: org });
      await second.policies.lookupEffectivePolicy({ resource: project });
      const after = await setBindings(first.grpc, org, { role: "roles/owner", members: [member] });
      const seen = await second.policies.getPolicy({ resource: org });
      expect(seen.etag, `round ${round}`).toEqual(after.etag);
      expect(seen.etag).not.toEqual(before.etag);
      const effective = await second.policies.lookupEffectivePolicy({ resource: project });
      expect(effective.bindings.flatMap((b) => b.binding!.members)).toContain(member);
    }
  });

  test("a resource created and a resource moved through the first server", async () => {
    const member = `user:${uniqueId("fresh")}@example.com`;
    const { org: from } = await newOrganizationOwnedBy(first.grpc, "user:someone@example.com");
    const { org: to } = await newOrganizationOwnedBy(first.grpc, member);
    const project = `projects/${uniqueId("prj_")}`;
    await first.grpc.resources.createResource({ resource: { name: project, parent: from } });
    expect(await isGranted(second, project, member)).toBe(false);
    await first.grpc.resources.updateResource({ resource: { name: project, parent: to }, updateMask: { paths: ["parent"] } });
    expect(await isGranted(second, project, member)).toBe(true);
  });
});

describe("a replica started after the writes", () => {
  test("answers from the current state (moves, deleted policies, conditions)", async () => {
    const api = first.grpc;
    const ada = `user:${uniqueId("snap")}@example.com`;
    const bob = `user:${uniqueId("snap")}@example.com`;
    const org = `organizations/${uniqueId("org_")}`;
    const [cloud, otherCloud] = [`clouds/${uniqueId("cld_")}`, `clouds/${uniqueId("cld_")}`];
    const [project, legacy] = [`projects/${uniqueId("prj_")}`, `projects/${uniqueId("legacy_")}`];
    await api.resources.createResource({ resource: { name: org } });
    await api.resources.createResource({ resource: { name: cloud, parent: org } });
    await api.resources.createResource({ resource: { name: otherCloud, parent: org } });
    await api.resources.createResource({ resource: { name: project, parent: cloud } });
    await api.resources.createResource({ resource: { name: legacy, parent: otherCloud } });
    await setBindings(api, cloud, { role: "roles/collaborator", members: [ada] });
    await setBindings(api, otherCloud, { role: "roles/collaborator", members: [bob] });
    await setBindings(api, org, { role: "roles/collaborator", members: [bob], condition: 'resource.name.startsWith("projects/prj_")' });
    await api.resources.updateResource({ resource: { name: project, parent: otherCloud }, updateMask: { paths: ["parent"] } });
    await api.policies.deletePolicy({ resource: otherCloud });

    const late = await spawnServer(first.server.db);
    try {
      const fresh = apiClients(late.url, { protocol: "connect" });
      // No min_sequence: the replica answers from the database as it is.
      expect(await isGranted(fresh, project, ada)).toBe(false);
      expect(await isGranted(fresh, project, bob)).toBe(true);
      expect(await isGranted(fresh, legacy, bob)).toBe(false);
    } finally {
      await late.stop();
    }
  });
});

