// Deny rules apply to reverse lookups as they do to checks: a denied member is not listed by who-can, a denied
// resource not by what-can, and a conditional deny leaves only conditional access.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
const ORG = "organizations/lkdeny";
const CLOUD = "clouds/lkdeny";
const P1 = "projects/lkdeny_p1";
const P2 = "projects/lkdeny_p2";

beforeAll(async () => {
  server = await startTestServer();
  const { resources, policies } = server.connect;
  await resources.createResource({ resource: { name: ORG } });
  await resources.createResource({ resource: { name: CLOUD, parent: ORG } });
  for (const p of [P1, P2]) await resources.createResource({ resource: { name: p, parent: CLOUD } });
  await policies.setPolicy({
    resource: ORG,
    policy: { bindings: [{ role: "roles/collaborator", members: ["user:ada@example.com", "user:bob@example.com", "group:ops"] }] },
  });
  // Bob may never delete projects of P1; the ops group may, unless the request says it is outside office hours.
  await server.connect.denyPolicies.setDenyPolicy({
    resource: P1,
    denyPolicy: {
      rules: [
        { deniedPrincipals: ["user:bob@example.com"], deniedPermissions: ["projects.delete"] },
        {
          deniedPrincipals: ["group:ops"],
          deniedPermissions: ["projects.delete"],
          denialCondition: { expression: "request.attributes.after_hours == true" },
        },
      ],
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

test("who can: a denied member is left out, a conditionally denied one is only conditionally listed", async () => {
  const answer = await server.grpc.access.lookupMembers({ resource: P1, permission: "projects.delete" });
  const byMember = new Map(answer.grants.map((m) => [m.member, m.state]));
  expect(byMember.get("user:ada@example.com")).toBe(AccessState.GRANTED);
  expect(byMember.has("user:bob@example.com")).toBe(false);
  expect(byMember.get("group:ops")).toBe(AccessState.UNKNOWN_CONDITIONAL);
  // Elsewhere the deny does not reach: bob holds it on P2.
  const p2 = await server.grpc.access.lookupMembers({ resource: P2, permission: "projects.delete" });
  expect(p2.grants.map((m) => m.member)).toContain("user:bob@example.com");
});

test("what can: the denied resource is left out for the denied principal, and kept for others", async () => {
  const bob = await server.connect.access.lookupResources({
    principals: ["user:bob@example.com"],
    permission: "projects.delete",
    resourceType: "project",
    ancestor: ORG,
  });
  expect(bob.resources.map((r) => r.resource)).toEqual([P2]);
  const ada = await server.connect.access.lookupResources({
    principals: ["user:ada@example.com"],
    permission: "projects.delete",
    resourceType: "project",
    ancestor: ORG,
  });
  expect(ada.resources.map((r) => r.resource)).toEqual([P1, P2]);
  const ops = await server.connect.access.lookupResources({
    principals: ["user:carol@example.com", "group:ops"],
    permission: "projects.delete",
    resourceType: "project",
    ancestor: ORG,
  });
  expect(ops.resources.map((r) => [r.resource, r.state])).toEqual([
    [P1, AccessState.UNKNOWN_CONDITIONAL],
    [P2, AccessState.GRANTED],
  ]);
});

describe("who can weighs a deny rule against everyone a member stands for, as CheckAccess does", () => {
  const WIDE = "organizations/lkdeny_wide";
  const members = ["domain:example.com", "allAuthenticatedUsers", "allUsers", "user:ada@example.com", "user:zed@other.com", "group:ops"];
  let n = 0;

  /** A project under WIDE whose policy grants projects.update to every kind of member, and whose deny policy is `rules`. */
  async function projectDenying(rules: { deniedPrincipals: string[]; exceptionPrincipals?: string[] }[]): Promise<string> {
    const project = `projects/lkdeny_wide_${++n}`;
    await server.connect.resources.createResource({ resource: { name: project, parent: WIDE } });
    await server.connect.policies.setPolicy({ resource: project, policy: { bindings: [{ role: "roles/collaborator", members }] } });
    await server.connect.denyPolicies.setDenyPolicy({
      resource: project,
      denyPolicy: { rules: rules.map((r) => ({ ...r, deniedPermissions: ["projects.update"] })) },
    });
    return project;
  }

  async function grants(project: string) {
    const answer = await server.connect.access.lookupMembers({ resource: project, permission: "projects.update" });
    return new Map(answer.grants.map((g) => [g.member, { partlyDenied: g.partlyDenied, deniedPrincipals: g.deniedPrincipals }]));
  }

  async function check(project: string, principals: string[]): Promise<AccessState> {
    const answer = await server.connect.access.checkAccess({ resource: project, principals, permissions: ["projects.update"] });
    return answer.results[0]!.state;
  }

  beforeAll(async () => {
    await server.connect.resources.createResource({ resource: { name: WIDE } });
  });

  test("a deny on allAuthenticatedUsers: no domain, no authenticated member is listed; allUsers only partly", async () => {
    const project = await projectDenying([{ deniedPrincipals: ["allAuthenticatedUsers"] }]);
    // CheckAccess denies every authenticated user, of the domain or not.
    expect(await check(project, ["user:someone@example.com"])).toBe(AccessState.DENIED);
    expect(await check(project, [])).toBe(AccessState.GRANTED);
    const listed = await grants(project);
    expect([...listed.keys()]).toEqual(["allUsers"]);
    expect(listed.get("allUsers")).toEqual({ partlyDenied: true, deniedPrincipals: ["allAuthenticatedUsers"] });
  });

  test("a deny exactly on domain:example.com: the domain and its users are not listed; wider members partly", async () => {
    const project = await projectDenying([{ deniedPrincipals: ["domain:example.com"] }]);
    expect(await check(project, ["user:anyone@example.com"])).toBe(AccessState.DENIED);
    const listed = await grants(project);
    expect(listed.has("domain:example.com")).toBe(false);
    expect(listed.has("user:ada@example.com")).toBe(false);
    expect(listed.get("allAuthenticatedUsers")).toEqual({ partlyDenied: true, deniedPrincipals: ["domain:example.com"] });
    expect(listed.get("allUsers")).toEqual({ partlyDenied: true, deniedPrincipals: ["domain:example.com"] });
    // Outside the domain nothing is denied.
    expect(listed.get("user:zed@other.com")).toEqual({ partlyDenied: false, deniedPrincipals: [] });
    expect(listed.get("group:ops")).toEqual({ partlyDenied: false, deniedPrincipals: [] });
  });

  test("a deny on one user: the domain holding it is partly denied; an exception inside a denied member likewise", async () => {
    const project = await projectDenying([
      { deniedPrincipals: ["user:ada@example.com"] },
      { deniedPrincipals: ["domain:example.com"], exceptionPrincipals: ["user:boss@example.com"] },
    ]);
    expect(await check(project, ["user:boss@example.com"])).toBe(AccessState.GRANTED);
    expect(await check(project, ["user:other@example.com"])).toBe(AccessState.DENIED);
    const listed = await grants(project);
    expect(listed.has("user:ada@example.com")).toBe(false);
    // Everyone of the domain but its exception is denied: the domain is listed, partly denied.
    expect(listed.get("domain:example.com")).toEqual({ partlyDenied: true, deniedPrincipals: ["domain:example.com", "user:ada@example.com"] });
  });
});
