// Who can (LookupMembers) decides each member as a check would: which roles grant (custom roles by name, only while
// active), how conditions read (unevaluated unless asked; an error is unknown, never granted), and what each deny rule
// does to each kind of member (users, service accounts, workforce principals, deleted principals, domains), with its
// exception principals and permissions and its condition. Found by mutation testing (docs/testing.md, round 3).
import type { JsonValue } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { RoleStage } from "../../gen/policy/v1/role_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { attributeValues } from "./support.js";

let server: TestServer;
const ORG = "organizations/whocanrules";
const PROJECT = "projects/whocanrules_p";
const OTHER = "projects/whocanrules_q";
const READER = `${ORG}/roles/reader`;
const VIEWER = `${ORG}/roles/viewer`;
const WORKFORCE = "principal://iam.googleapis.com/locations/global/workforcePools/pool/subject/kim";
const WORKFORCE_SET = "principalSet://iam.googleapis.com/locations/global/workforcePools/pool/group/eng";
const DELETED = "deleted:user:gone@example.com?uid=123";

beforeAll(async () => {
  server = await startTestServer();
  const { resources, roles, policies, denyPolicies } = server.connect;
  await resources.createResource({ resource: { name: ORG } });
  for (const p of [PROJECT, OTHER]) await resources.createResource({ resource: { name: p, parent: ORG } });
  await roles.createRole({ parent: ORG, roleId: "reader", role: { title: "Reader", includedPermissions: ["projects.get"] } });
  await roles.createRole({ parent: ORG, roleId: "viewer", role: { title: "Viewer", includedPermissions: ["projects.list"] } });
  await policies.setPolicy({
    resource: ORG,
    policy: {
      version: 3,
      bindings: [
        // The viewer role is bound first and does not grant projects.get: only the reader binding lists its member.
        { role: VIEWER, members: ["user:val@example.com"] },
        { role: READER, members: ["user:rex@example.com"] },
        { role: "roles/collaborator", members: ["serviceAccount:ci@example.com", WORKFORCE, WORKFORCE_SET, DELETED, "domain:example.com"] },
        { role: "roles/collaborator", members: ["user:cal@example.com"], condition: { expression: 'resource.type == "project"' } },
        { role: "roles/collaborator", members: ["user:cal@example.com"] },
        { role: "roles/collaborator", members: ["user:ola@example.com"], condition: { expression: "request.attributes.ok == true" } },
        { role: "roles/collaborator", members: ["user:dee@example.com", "user:fay@example.com", "user:gus@example.com", "user:hal@example.com"] },
      ],
    },
  });
  await denyPolicies.setDenyPolicy({
    resource: PROJECT,
    denyPolicy: {
      rules: [
        // Service accounts of example.com and every workforce principal: all authenticated users but ci's domain peers.
        { deniedPrincipals: ["domain:example.com"], deniedPermissions: ["projects.delete"], exceptionPrincipals: ["user:dee@example.com", "user:fay@example.com", "user:gus@example.com", "user:hal@example.com", "user:cal@example.com", "user:ola@example.com", "user:rex@example.com", "user:val@example.com"] },
        { deniedPrincipals: ["allAuthenticatedUsers"], deniedPermissions: ["projects.update"] },
        { deniedPrincipals: ["allUsers"], deniedPermissions: ["projects.list"] },
        // dee: denied outright, and also by a rule whose condition fails: still denied.
        { deniedPrincipals: ["user:dee@example.com"], deniedPermissions: ["projects.get"] },
        { deniedPrincipals: ["user:dee@example.com"], deniedPermissions: ["projects.get"], denialCondition: { expression: "request.attributes.late == true" } },
        // fay: the rule excepts the permission. gus: the rule's condition is false (on the resource, no attribute needed).
        { deniedPrincipals: ["user:fay@example.com"], deniedPermissions: ["projects.*"], exceptionPermissions: ["projects.get"] },
        { deniedPrincipals: ["user:gus@example.com"], deniedPermissions: ["projects.get"], denialCondition: { expression: 'resource.name.endsWith("_q")' } },
        // The domain is partly denied by a rule naming one of its users and someone outside it.
        { deniedPrincipals: ["user:hal@example.com", "user:zed@other.org"], deniedPermissions: ["projects.get"] },
      ],
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

type Row = [member: string, state: string, partlyDenied?: string[]];
async function whoCan(permission: string, resource = PROJECT, attributes?: Record<string, JsonValue>): Promise<{ rows: Row[]; partial: boolean }> {
  const answer = await server.grpc.access.lookupMembers({
    resource,
    permission,
    ...(attributes ? { attributes: attributeValues(attributes) } : {}),
  });
  return {
    rows: answer.grants.map((g) => (g.partlyDenied ? [g.member, AccessState[g.state], g.deniedPrincipals] : [g.member, AccessState[g.state]])),
    partial: answer.partial,
  };
}
const members = (rows: Row[]) => rows.map(([m]) => m);

test("custom roles: only the bound role's permissions, and only while it is active", async () => {
  const { rows, partial } = await whoCan("projects.get", OTHER);
  expect(members(rows)).toContain("user:rex@example.com");
  expect(members(rows)).not.toContain("user:val@example.com");
  // Asked by the server itself (no caller): nothing is hidden.
  expect(partial).toBe(false);
  const role = await server.connect.roles.getRole({ name: READER });
  // No other test reads the reader role.
  await server.connect.roles.updateRole({ role: { ...role, stage: RoleStage.DISABLED } });
  expect(members((await whoCan("projects.get", OTHER)).rows)).not.toContain("user:rex@example.com");
});

test("conditions: unevaluated unless asked, even when they would be true; an error is unknown, not granted", async () => {
  const cal = (rows: Row[]) => rows.filter(([m]) => m === "user:cal@example.com").map(([, s]) => s);
  // cal's plain grant is listed before the conditional one (no condition sorts first).
  expect(cal((await whoCan("projects.get", OTHER)).rows)).toEqual(["GRANTED", "UNKNOWN_CONDITIONAL"]);
  expect(cal((await whoCan("projects.get", OTHER, { any: 1 })).rows)).toEqual(["GRANTED", "GRANTED"]);
  const ola = (rows: Row[]) => rows.find(([m]) => m === "user:ola@example.com")?.[1];
  expect(ola((await whoCan("projects.get", OTHER)).rows)).toBe("UNKNOWN_CONDITIONAL");
  // Attributes given, but not the one the condition reads: an evaluation error.
  expect(ola((await whoCan("projects.get", OTHER, { other: true })).rows)).toBe("UNKNOWN_CONDITIONAL");
  expect(ola((await whoCan("projects.get", OTHER, { ok: true })).rows)).toBe("GRANTED");
  expect(ola((await whoCan("projects.get", OTHER, { ok: false })).rows)).toBeUndefined();
});

test("a deny on a domain takes out its service accounts; one on allAuthenticatedUsers every principal but deleted ones", async () => {
  const deleters = members((await whoCan("projects.delete")).rows);
  expect(deleters).not.toContain("serviceAccount:ci@example.com");
  expect(deleters).toEqual(expect.arrayContaining([WORKFORCE, WORKFORCE_SET, DELETED, "user:dee@example.com"]));
  const updaters = members((await whoCan("projects.update")).rows);
  for (const gone of ["serviceAccount:ci@example.com", WORKFORCE, WORKFORCE_SET, "domain:example.com", "user:dee@example.com"]) {
    expect(updaters, gone).not.toContain(gone);
  }
  // A deleted principal acts as nobody: only a rule on everyone covers it.
  expect(updaters).toContain(DELETED);
  expect(members((await whoCan("projects.list")).rows)).not.toContain(DELETED);
});

test("a deny rule's exceptions, its false condition, and an unconditional deny beside a failing one", async () => {
  const { rows } = await whoCan("projects.get");
  const state = (member: string) => rows.find(([m]) => m === member)?.[1];
  expect(state("user:dee@example.com")).toBeUndefined();
  expect(state("user:fay@example.com")).toBe("GRANTED");
  expect(state("user:gus@example.com")).toBe("GRANTED");
  expect(state("serviceAccount:ci@example.com")).toBe("GRANTED");
  // The domain is partly denied: by dee's rules and hal's (zed is not inside it; fay's rule excepts the permission,
  // gus's condition is false).
  expect(rows.find(([m]) => m === "domain:example.com")).toEqual(["domain:example.com", "GRANTED", ["user:dee@example.com", "user:hal@example.com"]]);
});
