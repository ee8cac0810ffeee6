// Who may read, edit and unbind a shared policy, against docs/security.md's promise that a caller learns nothing of
// what it may not read (issue 25, items 7 and 8): a policy's listing of its targets shows only the targets the caller
// can see; an effective policy shows a bound shared policy only to callers who may read it; a shared policy's editors
// cannot grant through it more than they could grant on each resource it is bound to; a guardrail (a shared policy
// with deny rules) cannot be unbound by those it guards. And the half-binding rule itself (issue 26): the read half on
// the policy side does not delete a binding.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import {
  ADMIN,
  binding,
  clientsAs,
  expectCode,
  signingKey,
  startTokenServer,
  uniqueId,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { createHierarchy } from "../helpers/hierarchy.js";

let server: SecureServer;
let key: SigningKey;
let admin: ApiClients;

const ORG_OWNER = "olivia@example.com"; // roles/owner on the organization
const PROJECT_OWNER = "pam@example.com"; // roles/owner on the project only
const READER = "rex@example.com"; // roles/readonly on the shared policy, nothing on any target
const EDITOR = "ed@example.com"; // roles/collaborator on the shared policy: edits and binds its half
const AUDITOR = "audrey@example.com"; // reads every policy of the organization (a custom role), not shared policies
const SAM = "sam@example.com";

const as = (email: string) => clientsAs(server, key, email);
const text = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v));

/** organization > cloud > project with the principals above; a shared policy `shared` of the organization. */
async function tree() {
  const { org, cloud, project } = await createHierarchy(admin);
  const shared = `sharedPolicies/${uniqueId("baseline")}`;
  await admin.roles.createRole({
    parent: org,
    roleId: "auditor",
    role: {
      title: "Auditor",
      includedPermissions: [
        "organizations.get",
        "organizations.getPolicy",
        "clouds.get",
        "clouds.getPolicy",
        "projects.get",
        "projects.getPolicy",
        "projects.lookupEffectivePolicy",
      ],
    },
  });
  await admin.policies.setPolicy({
    resource: org,
    policy: { bindings: [binding("roles/owner", `user:${ORG_OWNER}`), binding(`${org}/roles/auditor`, `user:${AUDITOR}`)] },
  });
  await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", `user:${PROJECT_OWNER}`)] } });
  await admin.sharedPolicies.createSharedPolicy({
    parent: org,
    sharedPolicyId: shared.split("/")[1]!,
    sharedPolicy: { bindings: [binding("roles/readonly", `user:${SAM}`)] },
  });
  await admin.policies.setPolicy({
    resource: shared,
    policy: { bindings: [binding("roles/readonly", `user:${READER}`), binding("roles/collaborator", `user:${EDITOR}`)] },
  });
  return { org, cloud, project, shared };
}

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = await as(ADMIN.slice("user:".length));
});

afterAll(async () => {
  await server?.stop();
});

describe("half-bindings", () => {
  test("the read half on the shared policy, with nothing on the target, reads a binding but does not delete it", async () => {
    const { project, shared } = await tree();
    await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: project } });
    const reader = await as(READER);
    expect((await reader.sharedPolicies.getSharedPolicyBinding({ sharedPolicy: shared, target: project })).target).toBe(project);
    await expectCode(
      reader.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: shared, target: project }),
      Code.PermissionDenied,
      /sharedPolicies\.deleteBinding/,
    );
    expect((await admin.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared })).bindings.map((b) => b.target)).toEqual([project]);
  });
});

describe("ListSharedPolicyBindings by shared policy shows only the targets the caller can see", () => {
  test("hidden targets are left out, and every page is full until the last, which has no token", async () => {
    const { org, cloud, shared } = await tree();
    const base = `projects/${uniqueId("t")}`;
    const targets = [1, 2, 3, 4, 5].map((i) => `${base}-${i}`);
    for (const target of targets) await admin.resources.createResource({ resource: { name: target, parent: cloud } });
    // The reader sees projects 2 and 4 only (and neither the cloud nor the organization).
    for (const visible of [targets[1]!, targets[3]!]) {
      await admin.policies.setPolicy({ resource: visible, policy: { bindings: [binding("roles/readonly", `user:${READER}`)] } });
    }
    for (const target of [org, cloud, ...targets]) {
      await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target } });
    }
    const reader = await as(READER);
    await expectCode(reader.resources.getResource({ name: targets[0]! }), Code.NotFound);

    const all = await reader.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared });
    expect(all.bindings.map((b) => b.target)).toEqual([targets[1], targets[3]]);
    expect(all.nextPageToken).toBe("");
    for (const hidden of [org, cloud, targets[0]!, targets[2]!, targets[4]!]) expect(text(all)).not.toContain(hidden);

    const first = await reader.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared, pageSize: 1 });
    expect(first.bindings.map((b) => b.target)).toEqual([targets[1]]);
    expect(first.nextPageToken).not.toBe("");
    const second = await reader.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared, pageSize: 1, pageToken: first.nextPageToken });
    expect(second.bindings.map((b) => b.target)).toEqual([targets[3]]);
    expect(second.nextPageToken).toBe("");
    const exact = await reader.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared, pageSize: 2 });
    expect(exact.bindings).toHaveLength(2);
    expect(exact.nextPageToken).toBe("");

    // Whoever sees every target (the organization's owner) lists them all, seven in pages of three.
    const owner = await as(ORG_OWNER);
    const listed: string[] = [];
    let pageToken = "";
    do {
      const page = await owner.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared, pageSize: 3, pageToken });
      expect(page.bindings.length === 3 || page.nextPageToken === "").toBe(true);
      listed.push(...page.bindings.map((b) => b.target));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(listed).toEqual([cloud, org, ...targets]);
  });
});

describe("LookupEffectivePolicy shows a bound shared policy only to callers who may read it (sharedPolicies.get)", () => {
  test("a caller who reads every policy on the chain but not the shared policy gets it left out, marked partial", async () => {
    const { cloud, project, shared } = await tree();
    const current = await admin.sharedPolicies.getSharedPolicy({ name: shared });
    await admin.sharedPolicies.updateSharedPolicy({
      sharedPolicy: { name: shared, etag: current.etag, denyRules: [{ deniedPrincipals: [`user:${SAM}`], deniedPermissions: ["projects.delete"] }] },
      updateMask: { paths: ["deny_rules"] },
    });
    await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: cloud } });
    const auditor = await as(AUDITOR);
    await expectCode(auditor.sharedPolicies.getSharedPolicy({ name: shared }), Code.NotFound);

    const effective = await auditor.policies.lookupEffectivePolicy({ resource: project });
    expect(effective.partial).toBe(true);
    expect(effective.sharedPolicies).toEqual([]);
    expect(effective.bindings.filter((b) => b.sharedPolicy !== "")).toEqual([]);
    expect(effective.denyRules).toEqual([]);
    expect(text(effective)).not.toContain(shared);
    expect(text(effective)).not.toContain(SAM);
    // The dedicated policies of the chain are all there.
    expect(effective.policies.map((p) => p.resource).sort()).toEqual([project, current.parent].sort());

    // The organization's owner may read the shared policy: the full answer, not partial.
    const full = await (await as(ORG_OWNER)).policies.lookupEffectivePolicy({ resource: project });
    expect(full.partial).toBe(false);
    expect(full.sharedPolicies.map((p) => [p.sharedPolicy?.name, p.resource])).toEqual([[shared, cloud]]);
    expect(full.denyRules.map((r) => r.sharedPolicy)).toEqual([shared]);
  });

  test("a dedicated deny policy is shown only where the caller may read it (getDenyPolicy), as GetDenyPolicy would", async () => {
    const { cloud, project } = await tree();
    await admin.denyPolicies.setDenyPolicy({
      resource: cloud,
      denyPolicy: { rules: [{ deniedPrincipals: [`user:${SAM}`], deniedPermissions: ["projects.delete"] }] },
    });
    const auditor = await as(AUDITOR);
    await expectCode(auditor.denyPolicies.getDenyPolicy({ resource: cloud }), Code.PermissionDenied);
    const effective = await auditor.policies.lookupEffectivePolicy({ resource: project });
    expect(effective.denyRules).toEqual([]);
    expect(effective.partial).toBe(true);
    expect(text(effective)).not.toContain(SAM);
    const full = await (await as(ORG_OWNER)).policies.lookupEffectivePolicy({ resource: project });
    expect(full.denyRules.map((r) => [r.resource, r.rule?.deniedPrincipals])).toEqual([[cloud, [`user:${SAM}`]]]);
    expect(full.partial).toBe(false);
  });

  test("the project's owner does not see the content of a shared policy bound to its project", async () => {
    const { project, shared } = await tree();
    await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: project } });
    const owner = await as(PROJECT_OWNER);
    await expectCode(owner.sharedPolicies.getSharedPolicy({ name: shared }), Code.NotFound);
    const effective = await owner.policies.lookupEffectivePolicy({ resource: project });
    expect(effective.partial).toBe(true);
    expect(effective.bindings.map((b) => [b.resource, b.sharedPolicy])).toEqual([[project, ""]]);
    expect(text(effective)).not.toContain(SAM);
    // Given read access to the shared policy, it sees it.
    await admin.policies.setPolicy({
      resource: shared,
      policy: { bindings: [binding("roles/readonly", `user:${READER}`, `user:${PROJECT_OWNER}`)] },
    });
    const shown = await owner.policies.lookupEffectivePolicy({ resource: project });
    expect(shown.sharedPolicies.map((p) => p.sharedPolicy?.name)).toEqual([shared]);
    expect(shown.bindings.filter((b) => b.sharedPolicy === shared).map((b) => b.binding?.members)).toEqual([[`user:${SAM}`]]);
  });
});

describe("editing a bound shared policy needs the right to set the policy of every resource it is bound to", () => {
  test("the shared policy's collaborator cannot grant itself owner of the organization through it", async () => {
    const { org, shared } = await tree();
    await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: org } });
    const editor = await as(EDITOR);
    const escalate = editor.sharedPolicies.updateSharedPolicy({
      sharedPolicy: { name: shared, bindings: [binding("roles/owner", `user:${EDITOR}`)] },
      updateMask: { paths: ["bindings"] },
    });
    // The organization is hidden from the editor: the refusal names neither it nor its type.
    const refused = await expectCode(escalate, Code.PermissionDenied, /lacks the permission to set the policy of a resource/);
    expect(refused.rawMessage).not.toMatch(new RegExp(`${org}|organization`));
    await expectCode(editor.resources.getResource({ name: org }), Code.NotFound);
    expect((await admin.sharedPolicies.getSharedPolicy({ name: shared })).bindings.map((b) => b.role)).toEqual(["roles/readonly"]);

    // Removing the deny rules of a bound guardrail is refused the same way (it needs organizations.setDenyPolicy).
    await admin.sharedPolicies.updateSharedPolicy({
      sharedPolicy: { name: shared, denyRules: [{ deniedPrincipals: [`user:${SAM}`], deniedPermissions: ["projects.delete"] }] },
      updateMask: { paths: ["deny_rules"] },
    });
    await expectCode(
      editor.sharedPolicies.updateSharedPolicy({ sharedPolicy: { name: shared, denyRules: [] }, updateMask: { paths: ["deny_rules"] } }),
      Code.PermissionDenied,
      /lacks the permission to set the deny policy of a resource/,
    );

    // What changes no access is the editor's to change: the description, or the content written back as it is.
    const current = await editor.sharedPolicies.getSharedPolicy({ name: shared });
    await editor.sharedPolicies.updateSharedPolicy({ sharedPolicy: { ...current, description: "baseline of acme" }, updateMask: { paths: ["*"] } });
    // The organization's owner may edit it.
    const owner = await as(ORG_OWNER);
    await owner.sharedPolicies.updateSharedPolicy({
      sharedPolicy: { name: shared, bindings: [binding("roles/collaborator", `user:${SAM}`)] },
      updateMask: { paths: ["bindings"] },
    });
    // Unbound, the shared policy grants nothing anywhere: its editor may write what it likes.
    await owner.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: shared, target: org });
    await editor.sharedPolicies.updateSharedPolicy({
      sharedPolicy: { name: shared, bindings: [binding("roles/owner", `user:${EDITOR}`)], denyRules: [] },
      updateMask: { paths: ["bindings", "deny_rules"] },
    });
  });

  test("a target the editor can see is named, with the permission it lacks there", async () => {
    const { project, shared } = await tree();
    await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: project } });
    await admin.policies.setPolicy({
      resource: project,
      policy: { bindings: [binding("roles/owner", `user:${PROJECT_OWNER}`), binding("roles/readonly", `user:${EDITOR}`)] },
    });
    const editor = await as(EDITOR);
    await expectCode(
      editor.sharedPolicies.updateSharedPolicy({
        sharedPolicy: { name: shared, bindings: [binding("roles/owner", `user:${EDITOR}`)] },
        updateMask: { paths: ["bindings"] },
      }),
      Code.PermissionDenied,
      new RegExp(`projects\\.setPolicy.*${project}`),
    );
  });
});

describe("a guardrail cannot be removed by those it guards", () => {
  test("unbinding a shared policy with deny rules needs the policy's half; one without them, either half", async () => {
    const { org, project, shared } = await tree();
    const guard = `sharedPolicies/${uniqueId("guard")}`;
    const owner = await as(ORG_OWNER);
    await owner.sharedPolicies.createSharedPolicy({
      parent: org,
      sharedPolicyId: guard.split("/")[1]!,
      sharedPolicy: { denyRules: [{ deniedPrincipals: [`user:${PROJECT_OWNER}`], deniedPermissions: ["projects.delete"] }] },
    });
    await owner.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: guard, target: project } });
    await owner.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: project } });
    const projectOwner = await as(PROJECT_OWNER);
    const deletes = () =>
      owner.access.checkAccess({ resource: project, principals: [`user:${PROJECT_OWNER}`], permissions: ["projects.delete"] });
    expect(AccessState[(await deletes()).results[0]!.state]).toBe("DENIED");

    await expectCode(
      projectOwner.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: guard, target: project }),
      Code.PermissionDenied,
      /sharedPolicies\.deleteBinding.*deny rules/,
    );
    expect(AccessState[(await deletes()).results[0]!.state]).toBe("DENIED");
    await expectCode(projectOwner.resources.deleteResource({ name: project }), Code.PermissionDenied);

    // A shared policy without deny rules: the project's half suffices, as AIP-2511 has it.
    await projectOwner.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: shared, target: project });
    // The guardrail's own side may unbind it.
    await owner.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: guard, target: project });
    expect((await projectOwner.sharedPolicies.listSharedPolicyBindings({ target: project })).bindings).toEqual([]);
    expect(AccessState[(await deletes()).results[0]!.state]).toBe("GRANTED");
  });
});
