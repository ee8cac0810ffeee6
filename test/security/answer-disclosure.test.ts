// Answers that carry what other objects hold show a caller only what it could read itself (issue 25, item 7;
// docs/security.md, "What answers show"): CheckAccess explanations and LookupMembers leave out the bindings and deny
// rules of shared policies the caller may not read (`sharedPolicies.get`) and the deny rules of resources whose deny
// policy it may not read (`{collection}.getDenyPolicy`), and say so (partial); the decisions themselves are unchanged.
// Audit entries show a policy written only to callers who may read that resource's policy; ListSharedPolicies lists
// only the shared policies GetSharedPolicy would show; GetSyncStatus names only the consumers GetConsumer would show.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { createHierarchy } from "../helpers/hierarchy.js";
import {
  ADMIN,
  PORTS,
  binding,
  clientsAs,
  expectCode,
  signingKey,
  startTokenServer,
  uniqueId,
  type ApiClients,
  type Port,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";

let server: SecureServer;
let key: SigningKey;
let admin: ApiClients;

const ORG_OWNER = "olivia@example.com"; // roles/owner on the organization: reads everything
const CHECKER = "checker@example.com"; // roles/checker on the organization: access.check, no policy reads
const PROJECT_OWNER = "pam@example.com"; // roles/owner on the project only
const READER = "rex@example.com"; // roles/checker on the organization and roles/readonly on the shared policy
const SAM = "sam@example.com"; // granted and denied through the shared policy
const DAN = "dan@example.com"; // denied by the project's own deny policy
const BOB = "bob@example.com"; // denied by the organization's own deny policy
const SECRET_RULE = "guardrail-text-only-readers-see";
const PROJECT_RULE = "project-rule-text";
const ORG_RULE = "organization-rule-text";

const as = (email: string, port?: Port) => clientsAs(server, key, email, port);
const text = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v));

/**
 * organization > cloud > project. The shared policy `shared` (bound to the project) grants SAM roles/readonly and
 * denies it projects.update; the project's own deny policy denies DAN projects.update; the organization's denies BOB
 * projects.update. The project's policy makes PROJECT_OWNER its owner and every user of example.com a collaborator.
 */
async function tree() {
  const { org, cloud, project } = await createHierarchy(admin);
  const shared = `sharedPolicies/${uniqueId("guard")}`;
  await admin.policies.setPolicy({
    resource: org,
    policy: {
      bindings: [
        binding("roles/owner", `user:${ORG_OWNER}`),
        binding("roles/checker", `user:${CHECKER}`, `user:${READER}`),
      ],
    },
  });
  await admin.policies.setPolicy({
    resource: project,
    policy: { bindings: [binding("roles/owner", `user:${PROJECT_OWNER}`), binding("roles/collaborator", "domain:example.com")] },
  });
  await admin.sharedPolicies.createSharedPolicy({
    parent: org,
    sharedPolicyId: shared.split("/")[1]!,
    sharedPolicy: {
      bindings: [binding("roles/readonly", `user:${SAM}`)],
      denyRules: [{ description: SECRET_RULE, deniedPrincipals: [`user:${SAM}`], deniedPermissions: ["projects.update"] }],
    },
  });
  await admin.policies.setPolicy({ resource: shared, policy: { bindings: [binding("roles/readonly", `user:${READER}`)] } });
  await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: project } });
  await admin.denyPolicies.setDenyPolicy({
    resource: project,
    denyPolicy: { rules: [{ description: PROJECT_RULE, deniedPrincipals: [`user:${DAN}`], deniedPermissions: ["projects.update"] }] },
  });
  await admin.denyPolicies.setDenyPolicy({
    resource: org,
    denyPolicy: { rules: [{ description: ORG_RULE, deniedPrincipals: [`user:${BOB}`], deniedPermissions: ["projects.update"] }] },
  });
  return { org, cloud, project, shared };
}

/** A custom role of `org` with `permissions`, granted to `email` on the organization. */
async function grantCustomRole(org: string, roleId: string, email: string, permissions: string[]) {
  await admin.roles.createRole({ parent: org, roleId, role: { title: roleId, includedPermissions: permissions } });
  const current = await admin.policies.getPolicy({ resource: org });
  await admin.policies.setPolicy({
    resource: org,
    policy: { etag: current.etag, bindings: [...current.bindings, binding(`${org}/roles/${roleId}`, `user:${email}`)] },
  });
}

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = await as(ADMIN.slice("user:".length));
});

afterAll(async () => {
  await server?.stop();
});

const stateOf = (state: AccessState) => AccessState[state];

describe.each(PORTS)("CheckAccess explanations leave out what the caller may not read (%s)", (port) => {
  test("a shared policy's bindings and deny rules are explained only to its readers; the states are the same", async () => {
    const { project, shared } = await tree();
    const request = { resource: project, principals: [`user:${SAM}`], permissions: ["projects.get", "projects.update"], explain: true };

    const checker = await as(CHECKER, port);
    await expectCode(checker.sharedPolicies.getSharedPolicy({ name: shared }), Code.NotFound);
    const hidden = await checker.access.checkAccess(request);
    expect(hidden.results.map((r) => stateOf(r.state))).toEqual(["GRANTED", "DENIED"]);
    expect(hidden.grantedPermissions).toEqual(["projects.get"]);
    expect(hidden.partialExplanations).toBe(true);
    expect(text(hidden)).not.toContain(shared);
    expect(text(hidden)).not.toContain(SECRET_RULE);
    // The project's own bindings are still explained (access.check on the project suffices for them).
    const matched = hidden.results[1]!.explanations.filter((e) => e.matchedMember !== "");
    expect(matched.map((e) => [e.resource, e.role, e.matchedMember])).toEqual([
      [project, "roles/collaborator", "domain:example.com"],
    ]);

    // A reader of the shared policy (with the same access.check) is told where the grant and the denial come from.
    const reader = await as(READER, port);
    const shown = await reader.access.checkAccess(request);
    expect(shown.results.map((r) => stateOf(r.state))).toEqual(["GRANTED", "DENIED"]);
    const throughShared = shown.results[0]!.explanations.filter((e) => e.sharedPolicy !== "");
    expect(throughShared.map((e) => [e.sharedPolicy, e.role, e.matchedMember])).toEqual([
      [shared, "roles/readonly", `user:${SAM}`],
    ]);
    expect(shown.results[1]!.denyExplanations.filter((d) => d.sharedPolicy === shared).map((d) => [d.description, stateOf(d.state)])).toEqual([
      [SECRET_RULE, "DENIED"],
    ]);
  });

  test("a resource's own deny rules are explained only to callers who may read its deny policy (getDenyPolicy)", async () => {
    const { project } = await tree();
    const request = { resource: project, principals: [`user:${DAN}`], permissions: ["projects.update"], explain: true };

    const checker = await as(CHECKER, port);
    await expectCode(checker.denyPolicies.getDenyPolicy({ resource: project }), Code.PermissionDenied);
    const hidden = await checker.access.checkAccess(request);
    expect(stateOf(hidden.results[0]!.state)).toBe("DENIED");
    expect(hidden.results[0]!.denyExplanations).toEqual([]);
    expect(hidden.partialExplanations).toBe(true);
    expect(text(hidden)).not.toContain(PROJECT_RULE);
    expect(text(hidden)).not.toContain(ORG_RULE);

    // The project's owner reads the project's deny policy, not the organization's (nor the shared policy's).
    const owner = await as(PROJECT_OWNER, port);
    const own = await owner.access.checkAccess(request);
    expect(stateOf(own.results[0]!.state)).toBe("DENIED");
    expect(own.results[0]!.denyExplanations.map((d) => [d.resource, d.sharedPolicy, d.description, stateOf(d.state)])).toEqual([
      [project, "", PROJECT_RULE, "DENIED"],
    ]);
    expect(own.partialExplanations).toBe(true);

    // The organization's owner reads them all: nothing is left out.
    const full = await (await as(ORG_OWNER, port)).access.checkAccess(request);
    expect(full.partialExplanations).toBe(false);
    expect(full.results[0]!.denyExplanations.map((d) => d.description).sort()).toEqual([ORG_RULE, PROJECT_RULE, SECRET_RULE].sort());
  });
});

describe("LookupMembers leaves out what the caller may not read", () => {
  test("grants through a shared policy the caller may not read are left out, marked partial", async () => {
    const { org, project, shared } = await tree();
    // Reads every policy of the chain (and nothing of shared policies).
    const policyReader = "percy@example.com";
    await grantCustomRole(org, "policyreader", policyReader, [
      "organizations.get",
      "organizations.getPolicy",
      "clouds.get",
      "clouds.getPolicy",
      "projects.get",
      "projects.getPolicy",
    ]);
    const reader = await as(policyReader);
    await expectCode(reader.sharedPolicies.getSharedPolicy({ name: shared }), Code.NotFound);
    const hidden = await reader.access.lookupMembers({ resource: project, permission: "projects.get" });
    expect(hidden.partial).toBe(true);
    expect(hidden.grants.map((g) => g.member).sort()).toEqual([
      "domain:example.com",
      `user:${ORG_OWNER}`,
      `user:${PROJECT_OWNER}`,
      `user:${policyReader}`,
    ]);
    expect(text(hidden)).not.toContain(shared);
    expect(text(hidden)).not.toContain(SAM);

    const owner = await as(PROJECT_OWNER);
    const ownerView = await owner.access.lookupMembers({ resource: project, permission: "projects.get" });
    expect(text(ownerView)).not.toContain(shared);

    // Given read access to the shared policy (and the organization's policy), the whole answer.
    const full = await (await as(ORG_OWNER)).access.lookupMembers({ resource: project, permission: "projects.get" });
    expect(full.partial).toBe(false);
    expect(full.grants.filter((g) => g.sharedPolicy === shared).map((g) => g.member)).toEqual([`user:${SAM}`]);
  });

  test("denied principals are named only from deny rules the caller may read; who is partly denied is unchanged", async () => {
    const { project } = await tree();
    const grantOf = (answer: { grants: { member: string; partlyDenied: boolean; deniedPrincipals: string[] }[] }) =>
      answer.grants.find((g) => g.member === "domain:example.com")!;

    // The project's owner reads the project's deny policy only: DAN, not BOB (the organization's) nor SAM (the shared
    // policy's).
    const owner = await as(PROJECT_OWNER);
    const partial = await owner.access.lookupMembers({ resource: project, permission: "projects.update" });
    expect(partial.partial).toBe(true);
    expect(grantOf(partial).partlyDenied).toBe(true);
    expect(grantOf(partial).deniedPrincipals).toEqual([`user:${DAN}`]);
    expect(text(partial)).not.toContain(BOB);
    expect(text(partial)).not.toContain(SAM);

    const full = await (await as(ORG_OWNER)).access.lookupMembers({ resource: project, permission: "projects.update" });
    expect(full.partial).toBe(false);
    expect(grantOf(full).deniedPrincipals).toEqual([`user:${BOB}`, `user:${DAN}`, `user:${SAM}`]);
  });
});

describe("ListAuditEntries of a subtree shows a policy written only where the caller may read it", () => {
  test("an organization's policy reader without projects.getPolicy sees the project's writes without their policies", async () => {
    const { org, project } = await tree();
    const auditor = "audrey@example.com";
    await grantCustomRole(org, "orgauditor", auditor, ["organizations.get", "organizations.getPolicy", "audit.list"]);
    const reader = await as(auditor);
    await expectCode(reader.policies.getPolicy({ resource: project }), Code.PermissionDenied);

    const page = await reader.audit.listAuditEntries({ resource: org, includeDescendants: true, action: "policy.set", pageSize: 100 });
    const byResource = (name: string) => page.entries.filter((e) => e.resource === name);
    expect(byResource(project)).toHaveLength(1);
    expect(byResource(project)[0]!.policy).toBeUndefined();
    expect(text(byResource(project))).not.toContain(PROJECT_OWNER);
    // The organization's own writes keep their policies: the reader may read the organization's policy.
    expect(byResource(org).at(-1)!.policy?.bindings.map((b) => b.role)).toContain(`${org}/roles/orgauditor`);

    const full = await (await as(ORG_OWNER)).audit.listAuditEntries({ resource: org, includeDescendants: true, action: "policy.set", pageSize: 100 });
    expect(full.entries.find((e) => e.resource === project)!.policy?.bindings.map((b) => b.role)).toContain("roles/owner");
  });
});

describe("ListSharedPolicies lists only the shared policies the caller may read", () => {
  test("a caller with sharedPolicies.list but not sharedPolicies.get sees neither their names nor their content", async () => {
    const { org, shared } = await tree();
    const lister = "lisa@example.com";
    await grantCustomRole(org, "sharedlister", lister, ["organizations.get", "sharedPolicies.list"]);
    // A second shared policy the lister is given read access to.
    const open = `sharedPolicies/${uniqueId("open")}`;
    await admin.sharedPolicies.createSharedPolicy({ parent: org, sharedPolicyId: open.split("/")[1]!, sharedPolicy: {} });
    await admin.policies.setPolicy({ resource: open, policy: { bindings: [binding("roles/readonly", `user:${lister}`)] } });

    const listing = await as(lister);
    await expectCode(listing.sharedPolicies.getSharedPolicy({ name: shared }), Code.NotFound);
    const page = await listing.sharedPolicies.listSharedPolicies({ parent: org });
    expect(page.sharedPolicies.map((p) => p.name)).toEqual([open]);
    expect(text(page)).not.toContain(SECRET_RULE);
    // Page by page: one per page, the hidden one skipped, no token after the last.
    const first = await listing.sharedPolicies.listSharedPolicies({ parent: org, pageSize: 1 });
    expect(first.sharedPolicies.map((p) => p.name)).toEqual([open]);
    expect(first.nextPageToken).toBe("");

    const all = await (await as(ORG_OWNER)).sharedPolicies.listSharedPolicies({ parent: org });
    expect(all.sharedPolicies.map((p) => p.name).sort()).toEqual([open, shared].sort());
  });
});

describe("GetSyncStatus names only the consumers the caller may read", () => {
  test("a project's owner learns that its policy failed to apply, not which organization-wide consumer failed nor why", async () => {
    const { org, project } = await tree();
    const consumer = `consumers/${uniqueId("orgwide")}`;
    const why = "quota of team-x exceeded";
    const owner = await as(ORG_OWNER);
    await owner.sync.createConsumer({ consumer: { name: consumer, subtree: org } });
    const { acknowledgedSequence, lagSequences } = await owner.sync.getConsumer({ name: consumer });
    const sequence = acknowledgedSequence + lagSequences;
    await owner.sync.acknowledgeChanges({ consumer, sequence, failures: [{ resource: project, sequence, message: why }] });

    const projectOwner = await as(PROJECT_OWNER);
    await expectCode(projectOwner.sync.getConsumer({ name: consumer }), Code.NotFound);
    const status = await projectOwner.sync.getSyncStatus({ resource: project });
    expect(SyncStatus[status.status]).toBe("FAILED");
    expect(status.consumers).toEqual([]);
    expect(status.partial).toBe(true);
    expect(text(status)).not.toContain(consumer);
    expect(text(status)).not.toContain(why);

    const full = await owner.sync.getSyncStatus({ resource: project });
    expect(SyncStatus[full.status]).toBe("FAILED");
    expect(full.consumers.map((c) => [c.consumer, c.message])).toEqual([[consumer, why]]);
    expect(full.partial).toBe(false);
  });
});
