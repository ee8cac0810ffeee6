// Grants held through shared policies reach reverse lookups as they reach checks: what-can lists the resources beneath
// a shared policy's targets, who-can names the shared policy, and both follow bindings and content as they change.
import { afterAll, beforeAll, expect, test } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { BindingSchema } from "../../gen/policy/v1/policy_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
const ORG = "organizations/lkshared";
const CLOUDS = ["clouds/lkshared_a", "clouds/lkshared_b"];
const PROJECTS = ["projects/lkshared_a1", "projects/lkshared_a2", "projects/lkshared_b1"];
const SHARED = "sharedPolicies/lkshared";
const SAM = "user:sam@example.com";

beforeAll(async () => {
  server = await startTestServer();
  const { resources } = server.connect;
  await resources.createResource({ resource: { name: ORG } });
  for (const cloud of CLOUDS) await resources.createResource({ resource: { name: cloud, parent: ORG } });
  for (const project of PROJECTS) await resources.createResource({ resource: { name: project, parent: project.includes("_a") ? CLOUDS[0] : CLOUDS[1] } });
  await server.connect.sharedPolicies.createSharedPolicy({
    parent: ORG,
    sharedPolicyId: "lkshared",
    sharedPolicy: { displayName: "Readers", bindings: [{ role: "roles/readonly", members: [SAM] }] },
  });
});

afterAll(async () => {
  await server?.stop();
});

const whatCan = async (extra: { ancestor?: string } = {}) =>
  (await server.grpc.access.lookupResources({ principals: [SAM], permission: "projects.get", resourceType: "project", ...extra })).resources.map(
    (r) => [r.resource, r.state],
  );

test("what can: the resources beneath a shared policy's targets, and only while it is bound and binds the subject", async () => {
  expect(await whatCan()).toEqual([]);
  await server.connect.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: SHARED, target: CLOUDS[0]! } });
  expect(await whatCan()).toEqual([
    [PROJECTS[0], AccessState.GRANTED],
    [PROJECTS[1], AccessState.GRANTED],
  ]);
  expect(await whatCan({ ancestor: CLOUDS[1] })).toEqual([]);
  // Who can names the shared policy the grant comes through.
  const members = await server.grpc.access.lookupMembers({ resource: PROJECTS[0]!, permission: "projects.get" });
  expect(members.grants.filter((g) => g.member === SAM).map((g) => [g.resource, g.sharedPolicy])).toEqual([[CLOUDS[0], SHARED]]);
  await server.connect.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: SHARED, target: CLOUDS[0]! });
  expect(await whatCan()).toEqual([]);
});

test("what can: a shared policy bound above the asked ancestor covers its whole subtree; a content change takes the grant away", async () => {
  // Read-only is a cloud and project role: on the organization the shared policy grants through its owner binding.
  const current = await server.connect.sharedPolicies.getSharedPolicy({ name: SHARED });
  const withBindings = (members: string[]) =>
    server.connect.sharedPolicies.updateSharedPolicy({ sharedPolicy: { ...current, etag: new Uint8Array(), bindings: [create(BindingSchema, { role: "roles/owner", members })] } });
  await withBindings([SAM]);
  await server.connect.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: SHARED, target: ORG } });
  expect((await whatCan({ ancestor: CLOUDS[1] })).map(([name]) => name)).toEqual([PROJECTS[2]]);
  expect((await whatCan()).map(([name]) => name)).toEqual(PROJECTS);
  await withBindings(["user:someone-else@example.com"]);
  expect(await whatCan()).toEqual([]);
  expect(await whatCan({ ancestor: CLOUDS[1] })).toEqual([]);
  await server.connect.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: SHARED, target: ORG });
});
