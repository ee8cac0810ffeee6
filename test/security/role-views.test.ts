// Roles in listings show what each caller could read with GetRole, no more (issue 25, item 7): QueryGrantableRoles
// and ListRoles answer in IAM's basic view (name, title, description) by default, and their full view shows a custom
// role's permissions only to callers who may GetRole it.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, test } from "vitest";
import { RoleView } from "../../gen/policy/v1/role_pb.js";
import {
  ADMIN,
  binding,
  clientsAs,
  expectCode,
  signingKey,
  startTokenServer,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { createHierarchy } from "../helpers/hierarchy.js";

let server: SecureServer;
let key: SigningKey;
let admin: ApiClients;
let org: string;
let project: string;
let deployer: string;

const ORG_OWNER = "olivia@example.com";
const PROJECT_OWNER = "pam@example.com";
const LISTER = "lis@example.com"; // organizations.listRoles (and get), not getRole

const as = (email: string) => clientsAs(server, key, email);

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = await as(ADMIN.slice("user:".length));
  ({ org, project } = await createHierarchy(admin));
  deployer = `${org}/roles/deployer`;
  await admin.roles.createRole({
    parent: org,
    roleId: "deployer",
    role: { title: "Deployer", description: "ships releases", includedPermissions: ["projects.get", "projects.update"] },
  });
  await admin.roles.createRole({ parent: org, roleId: "lister", role: { includedPermissions: ["organizations.get", "organizations.listRoles"] } });
  await admin.policies.setPolicy({
    resource: org,
    policy: { bindings: [binding("roles/owner", `user:${ORG_OWNER}`), binding(`${org}/roles/lister`, `user:${LISTER}`)] },
  });
  await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", `user:${PROJECT_OWNER}`)] } });
});

afterAll(async () => {
  await server?.stop();
});

test("QueryGrantableRoles: the basic view by default, for everyone, as IAM", async () => {
  for (const caller of [await as(PROJECT_OWNER), await as(ORG_OWNER)]) {
    const { roles } = await caller.roles.queryGrantableRoles({ resource: project });
    expect(roles.map((r) => r.name)).toEqual(["roles/owner", "roles/collaborator", "roles/readonly", deployer]);
    expect(roles.find((r) => r.name === deployer)).toMatchObject({ title: "Deployer", description: "ships releases", includedPermissions: [] });
    expect(roles.every((r) => r.includedPermissions.length === 0 && r.etag.length === 0)).toBe(true);
  }
});

test("QueryGrantableRoles' full view shows a custom role's permissions only to callers GetRole allows", async () => {
  const projectOwner = await as(PROJECT_OWNER);
  await expectCode(projectOwner.roles.getRole({ name: deployer }), Code.NotFound);
  const seen = await projectOwner.roles.queryGrantableRoles({ resource: project, view: RoleView.FULL });
  // The predefined roles are public (ListRoles without a parent); the custom one stays in the basic view.
  expect(seen.roles.find((r) => r.name === "roles/readonly")?.includedPermissions).toContain("projects.get");
  expect(seen.roles.find((r) => r.name === deployer)).toMatchObject({ title: "Deployer", includedPermissions: [] });
  expect(JSON.stringify(seen.roles.find((r) => r.name === deployer))).not.toContain("projects.update");

  const owner = await as(ORG_OWNER);
  const full = await owner.roles.queryGrantableRoles({ resource: project, view: RoleView.FULL });
  expect(full.roles.find((r) => r.name === deployer)?.includedPermissions).toEqual(["projects.get", "projects.update"]);
  await expectCode(owner.roles.queryGrantableRoles({ resource: project, view: 7 as RoleView }), Code.InvalidArgument, /view/);
});

test("ListRoles: the basic view by default; the full view shows custom roles' permissions to GetRole's callers only", async () => {
  const lister = await as(LISTER);
  await expectCode(lister.roles.getRole({ name: deployer }), Code.PermissionDenied, /organizations\.getRole/);
  const listed = await lister.roles.listRoles({ parent: org, view: RoleView.FULL });
  expect(listed.roles.map((r) => [r.name, r.includedPermissions])).toEqual([
    [deployer, []],
    [`${org}/roles/lister`, []],
  ]);
  const owner = await as(ORG_OWNER);
  expect((await owner.roles.listRoles({ parent: org })).roles.every((r) => r.includedPermissions.length === 0)).toBe(true);
  const full = await owner.roles.listRoles({ parent: org, view: RoleView.FULL });
  expect(full.roles.map((r) => r.includedPermissions)).toEqual([["projects.get", "projects.update"], ["organizations.get", "organizations.listRoles"]]);
  // Predefined roles: public, with their permissions in the full view.
  const predefined = await lister.roles.listRoles({ view: RoleView.FULL });
  expect(predefined.roles.find((r) => r.name === "roles/owner")?.includedPermissions).toContain("organizations.setPolicy");
  expect((await lister.roles.listRoles({})).roles.every((r) => r.includedPermissions.length === 0)).toBe(true);
});
