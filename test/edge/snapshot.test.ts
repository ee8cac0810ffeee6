// Snapshot: a subtree's whole state as of one sequence, every page at that sequence even while writes land between
// pages, so that the snapshot plus Watch after its sequence is the state later; parts a caller may not read are left
// out and marked withheld; bad input is INVALID_ARGUMENT.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SnapshotPart, type SnapshotResponse } from "../../gen/policy/v1/snapshot_service_pb.js";
import {
  ADMIN,
  apiClients,
  binding,
  expectCode,
  signingKey,
  startTokenServer,
  tokenFor,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { follow } from "../helpers/watch.js";

const ORG = "organizations/snap";
const CLOUD = "clouds/snap_c";
const PROJECTS = ["projects/snap_a", "projects/snap_b", "projects/snap_c"];

let key: SigningKey;
let server: SecureServer;
let admin: ApiClients;

async function collect(clients: ApiClients, subtree: string, pageSize = 0, between?: (page: number) => Promise<void>) {
  const pages: SnapshotResponse[] = [];
  for await (const page of clients.snapshots.snapshot({ subtree, pageSize })) {
    pages.push(page);
    await between?.(pages.length);
  }
  return pages;
}

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = apiClients(server.url, { token: await tokenFor(key, ADMIN.slice("user:".length)) });
  await admin.resources.createResource({ resource: { name: ORG } });
  await admin.resources.createResource({ resource: { name: CLOUD, parent: ORG } });
  for (const p of PROJECTS) await admin.resources.createResource({ resource: { name: p, parent: CLOUD } });
  await admin.policies.setPolicy({ resource: ORG, policy: { bindings: [binding("roles/owner", "user:owner@example.com")] } });
  await admin.policies.setPolicy({ resource: PROJECTS[0]!, policy: { bindings: [binding("roles/owner", "user:ada@example.com")] } });
  await admin.denyPolicies.setDenyPolicy({
    resource: CLOUD,
    denyPolicy: { rules: [{ deniedPrincipals: ["user:eve@example.com"], deniedPermissions: ["projects.delete"] }] },
  });
  await admin.roles.createRole({ parent: ORG, roleId: "viewer", role: { includedPermissions: ["projects.get"] } });
  // Rita reads PROJECTS[1] and its policy, nothing else (a reader without the deny and binding reads).
  await admin.roles.createRole({ parent: ORG, roleId: "policyReader", role: { includedPermissions: ["projects.get", "projects.getPolicy"] } });
  await admin.policies.setPolicy({
    resource: PROJECTS[1]!,
    policy: { bindings: [binding(`${ORG}/roles/policyReader`, "user:rita@example.com")] },
  });
  await admin.sharedPolicies.createSharedPolicy({
    parent: ORG,
    sharedPolicyId: "snap-baseline",
    sharedPolicy: { bindings: [binding("roles/readonly", "group:readers")] },
  });
  await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: "sharedPolicies/snap-baseline", target: PROJECTS[1]! } });
});

afterAll(async () => {
  await server?.stop();
});

describe("Snapshot", () => {
  test("an administrator's snapshot holds every resource, policy, deny policy, role and shared policy, parents first", async () => {
    const pages = await collect(admin, ORG);
    const resources = pages.flatMap((p) => p.resources);
    const names = resources.map((r) => r.resource!.name);
    expect(names).toEqual(expect.arrayContaining([ORG, CLOUD, ...PROJECTS, "sharedPolicies/snap-baseline"]));
    expect(names.indexOf(ORG)).toBe(0);
    for (const p of PROJECTS) expect(names.indexOf(CLOUD)).toBeLessThan(names.indexOf(p));
    const byName = new Map(resources.map((r) => [r.resource!.name, r]));
    expect(byName.get(ORG)!.policy!.bindings[0]!.members).toEqual(["user:owner@example.com"]);
    expect(byName.get(ORG)!.roles.map((r) => r.name)).toEqual([`${ORG}/roles/policyReader`, `${ORG}/roles/viewer`]);
    expect(byName.get(CLOUD)!.denyPolicy!.rules[0]!.deniedPrincipals).toEqual(["user:eve@example.com"]);
    expect(byName.get(PROJECTS[1]!)!.sharedPolicies).toEqual(["sharedPolicies/snap-baseline"]);
    expect(pages.flatMap((p) => p.sharedPolicies).map((s) => s.name)).toEqual(["sharedPolicies/snap-baseline"]);
    expect(resources.every((r) => r.withheld.length === 0)).toBe(true);
    expect(pages.at(-1)!.last).toBe(true);
  });

  test("the grpc-js port serves the same snapshot", async () => {
    const token = await tokenFor(key, ADMIN.slice("user:".length));
    const viaGrpcJs = apiClients(`http://${server.grpcAddress}`, { token, protocol: "grpc" });
    const names = (pages: SnapshotResponse[]) => pages.flatMap((p) => p.resources.map((r) => r.resource!.name));
    expect(names(await collect(viaGrpcJs, ORG, 2))).toEqual(names(await collect(admin, ORG, 2)));
  });

  test("a JSON client gets the same snapshot as a binary one (which gets the stored policies' bytes as they are)", async () => {
    const token = await tokenFor(key, ADMIN.slice("user:".length));
    const viaJson = apiClients(server.url, { token, protocol: "connect" });
    const resources = (pages: SnapshotResponse[]) => pages.flatMap((p) => p.resources);
    const binary = resources(await collect(admin, ORG, 2));
    expect(binary.some((r) => r.policy!.bindings.length > 0)).toBe(true);
    expect(resources(await collect(viaJson, ORG, 2))).toEqual(binary);
  });

  test("a subtree's snapshot starts with its root's ancestors, marked as such", async () => {
    const resources = (await collect(admin, CLOUD)).flatMap((p) => p.resources);
    expect(resources[0]!.resource!.name).toBe(ORG);
    expect(resources[0]!.ancestor).toBe(true);
    expect(resources.filter((r) => !r.ancestor).map((r) => r.resource!.name)).toEqual([CLOUD, ...PROJECTS]);
  });

  test("resource_types keeps the resources of those types (and the root's ancestors)", async () => {
    const pages: SnapshotResponse[] = [];
    for await (const page of admin.snapshots.snapshot({ subtree: CLOUD, resourceTypes: ["project"], pageSize: 2 })) pages.push(page);
    const resources = pages.flatMap((p) => p.resources);
    expect(resources.filter((r) => r.ancestor).map((r) => r.resource!.name)).toEqual([ORG]);
    expect(resources.filter((r) => !r.ancestor).map((r) => r.resource!.name)).toEqual(PROJECTS);
  });

  test("every page is at the snapshot's sequence: a write between pages is not in it, and Watch after it brings it", async () => {
    let written: bigint | undefined;
    const pages = await collect(admin, CLOUD, 1, async (page) => {
      if (page !== 2) return;
      const policy = await admin.policies.setPolicy({
        resource: PROJECTS[2]!,
        policy: { bindings: [binding("roles/readonly", "user:late@example.com")] },
      });
      written = policy.etag.length > 0 ? 1n : 0n;
    });
    expect(written).toBe(1n);
    expect(pages.length).toBeGreaterThan(3);
    const sequences = new Set(pages.map((p) => p.sequence));
    expect(sequences.size).toBe(1);
    expect(pages.slice(0, -1).every((p) => !p.last)).toBe(true);
    const last = pages.flatMap((p) => p.resources).find((r) => r.resource!.name === PROJECTS[2]);
    expect(last!.policy?.bindings ?? []).toEqual([]);
    const follower = follow(admin.watch, { afterSequence: pages[0]!.sequence, subtree: CLOUD });
    await follower.until((f) => f.changes().some((c) => c.resource === PROJECTS[2]));
    expect(follower.changes()[0]!.policy!.bindings[0]!.members).toEqual(["user:late@example.com"]);
    await follower.stop();
  });

  test("a caller sees what it may read: the root needs getPolicy, parts it may not read are withheld", async () => {
    const ada = apiClients(server.url, { token: await tokenFor(key, "ada@example.com") });
    await expectCode(collect(ada, ORG), Code.NotFound);
    const resources = (await collect(ada, PROJECTS[0]!)).flatMap((p) => p.resources);
    // The ancestors are hers to read only where a binding lets her: none does above her project.
    expect(resources.map((r) => r.resource!.name)).toEqual([PROJECTS[0]]);
    expect(resources[0]!.policy!.bindings[0]!.members).toEqual(["user:ada@example.com"]);
  });

  test("a reader without the deny and binding reads gets them withheld, and marked so", async () => {
    const rita = apiClients(server.url, { token: await tokenFor(key, "rita@example.com") });
    const pages = await collect(rita, PROJECTS[1]!);
    const resources = pages.flatMap((p) => p.resources);
    expect(resources.map((r) => r.resource!.name)).toEqual([PROJECTS[1]]);
    expect(resources[0]!.withheld).toEqual([SnapshotPart.DENY_POLICY, SnapshotPart.SHARED_POLICIES]);
    expect(resources[0]!.sharedPolicies).toEqual([]);
    expect(pages.flatMap((p) => p.sharedPolicies)).toEqual([]);
  });

  test("bad input is INVALID_ARGUMENT", async () => {
    await expectCode(collect(admin, ""), Code.InvalidArgument);
    await expectCode(collect(admin, ORG, 5000), Code.InvalidArgument);
    await expectCode(
      (async () => {
        for await (const _ of admin.snapshots.snapshot({ subtree: ORG, resourceTypes: ["nope"] })) void _;
      })(),
      Code.InvalidArgument,
    );
  });
});
