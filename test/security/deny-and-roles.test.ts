// Deny policies, the permission of each policy method, and custom roles, through real clients on both ports (the
// Connect main port and the grpc-js gRPC port) with authentication and the service's own authorization on.
import { Code } from "@connectrpc/connect";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { RoleStage } from "../../gen/policy/v1/role_pb.js";
import {
  ADMIN,
  AUDIENCE,
  ISSUER,
  apiClients,
  binding,
  expectCode,
  mint,
  signingKey,
  startSecureServer,
  tempDir,
  uniqueId,
  writeJwks,
  type ApiClients,
  type SecureServer,
  type SigningKey,
  PORTS,
  clientsAs,
  type Port,
} from "../helpers/secure-server.js";
import { createHierarchy } from "../helpers/hierarchy.js";

let server: SecureServer;
let key: SigningKey;
let admin: ApiClients;

const OWNER = "olivia@example.com";
const DEV = "dev@example.com";
const CHECKER = "checker@example.com";

const as = (email: string, port?: Port) => clientsAs(server, key, email, port);

/** A fresh organization > cloud > project, OWNER owning the organization, CHECKER checking, DEV collaborating. */
async function tree() {
  const { org, cloud, project } = await createHierarchy(admin);
  await admin.policies.setPolicy({
    resource: org,
    policy: {
      bindings: [
        binding("roles/owner", `user:${OWNER}`),
        binding("roles/collaborator", `user:${DEV}`),
        binding("roles/checker", `serviceAccount:${CHECKER}`),
      ],
    },
  });
  return { org, cloud, project };
}

beforeAll(async () => {
  const dir = tempDir();
  key = await signingKey("ES256");
  server = await startSecureServer(
    { jwks: await writeJwks(join(dir, "jwks.json"), [key]), jwtIssuer: ISSUER, jwtAudience: AUDIENCE, admins: [ADMIN] },
    dir,
  );
  admin = await as("root@example.com");
});

afterAll(async () => {
  await server?.close();
});

describe.each(PORTS)("deny policies over the %s", (port) => {
  test("a deny on the organization wins over the project's allow; CheckAccess says DENIED and why", async () => {
    const { org, project } = await tree();
    const owner = await as(OWNER, port);
    const dev = await as(DEV, port);
    const empty = await owner.denyPolicies.getDenyPolicy({ resource: org });
    expect(empty.rules).toEqual([]);
    const set = await owner.denyPolicies.setDenyPolicy({
      resource: org,
      denyPolicy: {
        etag: empty.etag,
        rules: [{ description: "no deletes", deniedPrincipals: [`user:${DEV}`, `user:${DEV}`], deniedPermissions: ["projects.*"], exceptionPermissions: ["projects.get", "projects.list"] }],
      },
    });
    expect(set.rules[0]!.deniedPrincipals).toEqual([`user:${DEV}`]);
    // The project owner role, granted on the project itself, cannot undo the organization's guardrail.
    await owner.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", `user:${DEV}`)] } });
    await expectCode(dev.resources.deleteResource({ name: project }), Code.PermissionDenied);
    await expectCode(dev.policies.setPolicy({ resource: project, policy: { bindings: [] } }), Code.PermissionDenied, /projects.setPolicy/);
    expect((await dev.resources.getResource({ name: project })).name).toBe(project);

    const checker = apiClients(port === "grpc-js port" ? `http://${server.grpcAddress}` : server.url, {
      token: await mint(key, { sub: `serviceAccount:${CHECKER}` }),
      protocol: port === "grpc-js port" ? "grpc" : "connect",
    });
    const question = { resource: project, principals: [`user:${DEV}`], permissions: ["projects.delete", "projects.get"], explain: true };
    const checked = await checker.access.checkAccess(question);
    expect(checked.results.map((r) => AccessState[r.state])).toEqual(["DENIED", "GRANTED"]);
    expect(checked.grantedPermissions).toEqual(["projects.get"]);
    // The checker may not read the organization's deny policy: the rule decides, unexplained.
    expect(checked.results[0]!.denyExplanations).toEqual([]);
    expect(checked.partialExplanations).toBe(true);
    // The organization's owner may: it is told which rule denies and why.
    const answer = await owner.access.checkAccess(question);
    expect(answer.results.map((r) => AccessState[r.state])).toEqual(["DENIED", "GRANTED"]);
    expect(answer.partialExplanations).toBe(false);
    expect(answer.results[0]!.denyExplanations[0]).toMatchObject({
      resource: org,
      ruleIndex: 0,
      description: "no deletes",
      state: AccessState.DENIED,
      matchedPrincipal: `user:${DEV}`,
    });
    expect(answer.results[0]!.denyExplanations[0]!.reason).toContain("projects.*");
    expect((await dev.policies.testIamPermissions({ resource: project, permissions: ["projects.delete", "projects.get"] })).permissions).toEqual(["projects.get"]);

    const effective = await owner.policies.lookupEffectivePolicy({ resource: project });
    expect(effective.denyRules.map((r) => [r.resource, r.ruleIndex, r.rule?.description])).toEqual([[org, 0, "no deletes"]]);

    // Etag concurrency as for allow policies: a stale etag is ABORTED and changes nothing.
    await expectCode(owner.denyPolicies.setDenyPolicy({ resource: org, denyPolicy: { etag: empty.etag, rules: [] } }), Code.Aborted);
    await expectCode(owner.denyPolicies.deleteDenyPolicy({ resource: org, etag: empty.etag }), Code.Aborted);
    const deleted = await owner.denyPolicies.deleteDenyPolicy({ resource: org, etag: set.etag });
    expect(deleted.sequence).toBeGreaterThan(0n);
    const after = await checker.access.checkAccess({ resource: project, principals: [`user:${DEV}`], permissions: ["projects.delete"], minSequence: deleted.sequence });
    expect(after.grantedPermissions).toEqual(["projects.delete"]);
  });

  test("a bad rule is INVALID_ARGUMENT with field paths; an unknown resource NOT_FOUND", async () => {
    const { org } = await tree();
    const owner = await as(OWNER, port);
    const error = await expectCode(
      owner.denyPolicies.setDenyPolicy({
        resource: org,
        denyPolicy: { rules: [{ deniedPrincipals: ["bob"], deniedPermissions: ["projects.fly"], denialCondition: { expression: "1 +" } }] },
      }),
      Code.InvalidArgument,
    );
    expect(error.rawMessage).toContain("deny_policy.rules[0].denied_permissions[0]");
    expect(error.rawMessage).toContain("deny_policy.rules[0].denied_principals[0]");
    expect(error.rawMessage).toContain("deny_policy.rules[0].denial_condition.expression");
    await expectCode(admin.denyPolicies.getDenyPolicy({ resource: `organizations/${uniqueId("ghost")}` }), Code.NotFound);
  });
});

test("a conditional deny that cannot be evaluated makes the answer unknown, never a grant", async () => {
  const { org, project } = await tree();
  await admin.denyPolicies.setDenyPolicy({
    resource: org,
    denyPolicy: { rules: [{ deniedPrincipals: ["allUsers"], deniedPermissions: ["projects.update"], denialCondition: { expression: "request.attributes.office == false" } }] },
  });
  const check = (attributes: Record<string, boolean>) =>
    admin.access.checkAccess({ resource: project, principals: [`user:${DEV}`], permissions: ["projects.update"], attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { kind: { case: "boolValue", value: v } }])) });
  expect(AccessState[(await check({})).results[0]!.state]).toBe("UNKNOWN_CONDITIONAL");
  expect(AccessState[(await check({ office: false })).results[0]!.state]).toBe("DENIED");
  expect(AccessState[(await check({ office: true })).results[0]!.state]).toBe("GRANTED");
});

test("bootstrap administrators cannot be locked out: a deny of everything to everyone does not stop them", async () => {
  const { org, project } = await tree();
  const owner = await as(OWNER);
  await owner.denyPolicies.setDenyPolicy({ resource: org, denyPolicy: { rules: [{ deniedPrincipals: ["allUsers"], deniedPermissions: ["*"] }] } });
  // The owner locked everybody out, itself included: even seeing the organization is denied.
  await expectCode(owner.denyPolicies.getDenyPolicy({ resource: org }), Code.NotFound);
  await expectCode(owner.resources.getResource({ name: project }), Code.NotFound);
  // An administrator (--admins, outside every policy) still reads and removes it.
  expect((await admin.denyPolicies.getDenyPolicy({ resource: org })).rules).toHaveLength(1);
  await admin.denyPolicies.deleteDenyPolicy({ resource: org });
  expect((await owner.resources.getResource({ name: project })).name).toBe(project);
});

describe("a permission per policy method", () => {
  const METHODS: [string, (c: ApiClients, project: string) => Promise<unknown>][] = [
    ["getPolicy", (c, p) => c.policies.getPolicy({ resource: p })],
    ["setPolicy", (c, p) => c.policies.setPolicy({ resource: p, policy: { bindings: [] } })],
    ["deletePolicy", (c, p) => c.policies.deletePolicy({ resource: p })],
    ["lookupEffectivePolicy", (c, p) => c.policies.lookupEffectivePolicy({ resource: p })],
    ["listPolicies", (c, p) => c.policies.listPolicies({ resourceType: "project", parent: p })],
    ["getDenyPolicy", (c, p) => c.denyPolicies.getDenyPolicy({ resource: p })],
    ["setDenyPolicy", (c, p) => c.denyPolicies.setDenyPolicy({ resource: p, denyPolicy: { rules: [] } })],
    ["deleteDenyPolicy", (c, p) => c.denyPolicies.deleteDenyPolicy({ resource: p })],
  ];

  test("each method needs exactly its own projects.{method} permission", async () => {
    const { org, project } = await tree();
    const owner = await as(OWNER);
    const bindings = [];
    for (const [verb] of METHODS) {
      await owner.roles.createRole({ parent: org, roleId: `only_${verb}`, role: { title: verb, includedPermissions: ["projects.get", `projects.${verb}`] } });
      bindings.push(binding(`${org}/roles/only_${verb}`, `user:${verb}@example.com`));
    }
    await owner.policies.setPolicy({ resource: project, policy: { bindings } });
    for (const [verb] of METHODS) {
      const caller = await as(`${verb}@example.com`);
      for (const [other, call] of METHODS) {
        if (other !== verb) await expectCode(call(caller, project), Code.PermissionDenied, new RegExp(`"projects.${other}"`));
      }
      await METHODS.find(([own]) => own === verb)![1](caller, project);
      // The binding set by setPolicy above is gone after setPolicy/deletePolicy: put it back for the next caller.
      await owner.policies.setPolicy({ resource: project, policy: { bindings } });
    }
  });
});

describe("roles", () => {
  test("the roles API lists predefined roles, grantable roles and testable permissions", async () => {
    const { org, project } = await tree();
    const owner = await as(OWNER);
    const predefined = await owner.roles.listRoles({});
    expect(predefined.roles.map((r) => r.name)).toEqual(["roles/checker", "roles/collaborator", "roles/owner", "roles/readonly"]);
    expect((await owner.roles.getRole({ name: "roles/readonly" })).resourceTypes).toEqual(["cloud", "project", "shared_policy"]);
    await expectCode(owner.roles.getRole({ name: "roles/nope" }), Code.NotFound);
    await owner.roles.createRole({ parent: org, roleId: "deployer", role: { title: "Deployer", includedPermissions: ["projects.get", "projects.update"] } });
    await owner.roles.createRole({ parent: org, roleId: "cloudy", role: { includedPermissions: ["clouds.create"] } });
    const grantable = await owner.roles.queryGrantableRoles({ resource: project });
    expect(grantable.roles.map((r) => r.name)).toEqual(["roles/owner", "roles/collaborator", "roles/readonly", `${org}/roles/deployer`]);
    const testable = await owner.roles.queryTestablePermissions({ resource: project, pageSize: 5 });
    expect(testable.permissions).toHaveLength(5);
    expect(testable.nextPageToken).not.toBe("");
    expect((await owner.roles.listRoles({ parent: org })).roles.map((r) => r.name)).toEqual([`${org}/roles/cloudy`, `${org}/roles/deployer`]);
    // A caller without roles on the organization sees none of its custom roles.
    await expectCode((await as("eve@example.com")).roles.listRoles({ parent: org }), Code.NotFound);
  });

  test("custom role lifecycle: a binding stops granting when its role is disabled or deleted, and grants again on undelete", async () => {
    const { org, project } = await tree();
    const owner = await as(OWNER);
    const name = `${org}/roles/deployer`;
    const created = await owner.roles.createRole({ parent: org, roleId: "deployer", role: { title: "Deployer", includedPermissions: ["projects.update", "projects.get"] } });
    expect(created).toMatchObject({ name, stage: RoleStage.GA, includedPermissions: ["projects.get", "projects.update"], deleted: false });
    await expectCode(owner.roles.createRole({ parent: org, roleId: "deployer", role: { includedPermissions: ["projects.get"] } }), Code.AlreadyExists);
    await expectCode(owner.roles.createRole({ parent: org, roleId: "bad", role: { includedPermissions: ["projects.fly"] } }), Code.InvalidArgument);
    // A role with an organization-only permission can be granted on organizations only.
    const orgOnly = await owner.roles.createRole({ parent: org, roleId: "mixed", role: { includedPermissions: ["organizations.update", "clouds.get"] } });
    expect(orgOnly.resourceTypes).toEqual(["organization"]);
    await expectCode(
      owner.policies.setPolicy({ resource: project, policy: { bindings: [binding(orgOnly.name, "user:ann@example.com")] } }),
      Code.InvalidArgument,
      /cannot be granted on a project/,
    );
    await owner.roles.deleteRole({ name: orgOnly.name });
    await owner.policies.setPolicy({ resource: project, policy: { bindings: [binding(name, "user:ann@example.com")] } });
    await expectCode(
      owner.policies.setPolicy({ resource: project, policy: { bindings: [binding(`${org}/roles/ghost`, "user:ann@example.com")] } }),
      Code.InvalidArgument,
    );
    const check = async () => (await admin.access.checkAccess({ resource: project, principals: ["user:ann@example.com"], permissions: ["projects.update"] })).results[0]!.state;
    expect(await check()).toBe(AccessState.GRANTED);

    await expectCode(owner.roles.updateRole({ role: { name, etag: new Uint8Array([1, 2, 3]), stage: RoleStage.DISABLED }, updateMask: { paths: ["stage"] } }), Code.Aborted);
    const disabled = await owner.roles.updateRole({ role: { name, etag: created.etag, stage: RoleStage.DISABLED }, updateMask: { paths: ["stage"] } });
    expect(await check()).toBe(AccessState.NOT_GRANTED);
    await owner.roles.updateRole({ role: { name, etag: disabled.etag, stage: RoleStage.GA }, updateMask: { paths: ["stage"] } });
    expect(await check()).toBe(AccessState.GRANTED);

    const deleted = await owner.roles.deleteRole({ name });
    expect(deleted.deleted).toBe(true);
    expect(deleted.deleteTime).toBeDefined();
    expect(await check()).toBe(AccessState.NOT_GRANTED);
    // The binding stays stored; the role is hidden from listings unless asked for.
    expect((await owner.policies.getPolicy({ resource: project })).bindings[0]!.role).toBe(name);
    expect((await owner.roles.listRoles({ parent: org })).roles).toEqual([]);
    expect((await owner.roles.listRoles({ parent: org, showDeleted: true })).roles.map((r) => r.name)).toEqual([name, `${org}/roles/mixed`]);
    await expectCode(owner.roles.deleteRole({ name }), Code.FailedPrecondition);
    await expectCode(owner.roles.updateRole({ role: { name, title: "x" }, updateMask: { paths: ["title"] } }), Code.FailedPrecondition);

    await owner.roles.undeleteRole({ name });
    expect(await check()).toBe(AccessState.GRANTED);
    await expectCode(owner.roles.undeleteRole({ name }), Code.FailedPrecondition);

    // Narrowing the role's permissions applies on the next check.
    await owner.roles.updateRole({ role: { name, includedPermissions: ["projects.get"] }, updateMask: { paths: ["included_permissions"] } });
    expect(await check()).toBe(AccessState.NOT_GRANTED);
    // A collaborator may read roles but not manage them.
    const dev = await as(DEV);
    expect((await dev.roles.getRole({ name })).name).toBe(name);
    await expectCode(dev.roles.deleteRole({ name }), Code.PermissionDenied, /organizations.deleteRole/);
  });

  test("a custom role of another organization cannot be granted, nor grants, here", async () => {
    const a = await tree();
    const b = await tree();
    const owner = await as(OWNER);
    await owner.roles.createRole({ parent: a.org, roleId: "reader", role: { includedPermissions: ["projects.get"] } });
    await expectCode(
      owner.policies.setPolicy({ resource: b.project, policy: { bindings: [binding(`${a.org}/roles/reader`, "user:ann@example.com")] } }),
      Code.InvalidArgument,
      /not defined on this resource's organization/,
    );
  });
});
