// Custom roles reach what-can as they reach checks and who-can: a binding of an organization's active custom role
// lists the resources beneath it, directly or through a shared policy, with or without an ancestor; a disabled one
// (which grants nothing) lists nothing.
import { afterAll, beforeAll, expect, test } from "vitest";
import { RoleStage } from "../../gen/policy/v1/role_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
const ORG = "organizations/lkcustom";
const CLOUDS = ["clouds/lkcustom_a", "clouds/lkcustom_b"];
const PROJECTS = ["projects/lkcustom_a1", "projects/lkcustom_b1"];
const ROLE = `${ORG}/roles/reader`;

beforeAll(async () => {
  server = await startTestServer();
  const { resources, roles, policies, sharedPolicies } = server.connect;
  await resources.createResource({ resource: { name: ORG } });
  for (const [i, cloud] of CLOUDS.entries()) {
    await resources.createResource({ resource: { name: cloud, parent: ORG } });
    await resources.createResource({ resource: { name: PROJECTS[i]!, parent: cloud } });
  }
  await roles.createRole({ parent: ORG, roleId: "reader", role: { title: "Reader", includedPermissions: ["projects.get"] } });
  await policies.setPolicy({ resource: CLOUDS[0]!, policy: { bindings: [{ role: ROLE, members: ["user:ada@example.com"] }] } });
  await sharedPolicies.createSharedPolicy({ parent: ORG, sharedPolicyId: "lkcustom", sharedPolicy: { bindings: [{ role: ROLE, members: ["group:eng"] }] } });
  await sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: "sharedPolicies/lkcustom", target: CLOUDS[1]! } });
});

afterAll(async () => {
  await server?.stop();
});

const whatCan = async (principals: string[], ancestor = "") =>
  (await server.grpc.access.lookupResources({ principals, permission: "projects.get", resourceType: "project", ancestor })).resources.map((r) => r.resource);

test("what can: a custom role bound directly or through a shared policy lists the resources beneath its binding", async () => {
  expect(await whatCan(["user:ada@example.com"])).toEqual([PROJECTS[0]]);
  expect(await whatCan(["user:bob@example.com", "group:eng"])).toEqual([PROJECTS[1]]);
  expect(await whatCan(["user:ada@example.com"], CLOUDS[0])).toEqual([PROJECTS[0]]);
  expect(await whatCan(["user:ada@example.com"], PROJECTS[0])).toEqual([PROJECTS[0]]);
  expect(await whatCan(["user:ada@example.com"], CLOUDS[1])).toEqual([]);
  // Checks agree.
  const check = await server.grpc.access.checkAccess({ resource: PROJECTS[0]!, principals: ["user:ada@example.com"], permissions: ["projects.get"] });
  expect(check.grantedPermissions).toEqual(["projects.get"]);
});

test("what can: a disabled custom role lists nothing, as it grants nothing", async () => {
  const role = await server.connect.roles.getRole({ name: ROLE });
  await server.connect.roles.updateRole({ role: { ...role, stage: RoleStage.DISABLED } });
  try {
    expect(await whatCan(["user:ada@example.com"])).toEqual([]);
    expect(await whatCan(["user:ada@example.com"], CLOUDS[0])).toEqual([]);
  } finally {
    const disabled = await server.connect.roles.getRole({ name: ROLE });
    await server.connect.roles.updateRole({ role: { ...disabled, stage: RoleStage.GA } });
  }
});
