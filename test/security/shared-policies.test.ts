// Shared policies (AIP-2511) through real clients on both ports, with authentication and the service's own
// authorization on: lifecycle and etags, the half-binding permissions, effective policies, CheckAccess, the
// service's own authorization and Watch.
import { Code } from "@connectrpc/connect";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { ChangeKind } from "../../gen/policy/v1/watch_service_pb.js";
import {
  ADMIN,
  AUDIENCE,
  ISSUER,
  binding,
  expectCode,
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
const PLATFORM = "plat@example.com";
const PROJECT_OWNER = "po@example.com";
const BOTH = "both@example.com";
const SAM = "sam@example.com";

const as = (email: string, port?: Port) => clientsAs(server, key, email, port);

/** organization > cloud > project, OWNER owning the organization; a shared policy the platform team owns. */
async function tree() {
  const { org, cloud, project } = await createHierarchy(admin);
  const shared = `sharedPolicies/${uniqueId("baseline")}`;
  await admin.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", `user:${OWNER}`)] } });
  await admin.policies.setPolicy({
    resource: project,
    policy: { bindings: [binding("roles/owner", `user:${PROJECT_OWNER}`, `user:${BOTH}`), binding("roles/readonly", `user:${PLATFORM}`)] },
  });
  return { org, cloud, project, shared };
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

describe.each(PORTS)("shared policies over the %s", (port) => {
  test("create, get, update with etag and mask, list with filter and pages, delete refused while bound", async () => {
    const { org, cloud, shared } = await tree();
    const owner = await as(OWNER, port);
    const id = shared.slice("sharedPolicies/".length);
    const created = await owner.sharedPolicies.createSharedPolicy({
      parent: org,
      sharedPolicyId: id,
      sharedPolicy: { displayName: "Prod baseline", bindings: [binding("roles/readonly", `user:${SAM}`, `user:${SAM}`)] },
    });
    expect(created).toMatchObject({ name: shared, parent: org, displayName: "Prod baseline" });
    expect(created.bindings[0]!.members).toEqual([`user:${SAM}`]);
    await expectCode(owner.sharedPolicies.createSharedPolicy({ parent: org, sharedPolicyId: id, sharedPolicy: {} }), Code.AlreadyExists);
    expect((await owner.sharedPolicies.getSharedPolicy({ name: shared })).etag).toEqual(created.etag);

    const updated = await owner.sharedPolicies.updateSharedPolicy({
      sharedPolicy: { name: shared, etag: created.etag, description: "for every production cloud", displayName: "ignored" },
      updateMask: { paths: ["description"] },
    });
    expect(updated).toMatchObject({ displayName: "Prod baseline", description: "for every production cloud" });
    expect(updated.bindings).toHaveLength(1);
    expect(updated.etag).not.toEqual(created.etag);
    await expectCode(owner.sharedPolicies.updateSharedPolicy({ sharedPolicy: { name: shared, etag: created.etag } }), Code.Aborted);
    const bad = await expectCode(
      owner.sharedPolicies.updateSharedPolicy({ sharedPolicy: { name: shared, bindings: [binding("roles/nope", "user:x@example.com")] } }),
      Code.InvalidArgument,
    );
    expect(bad.rawMessage).toContain("shared_policy.bindings[0].role");
    // Shared policies are resources managed through their own service.
    await expectCode(admin.resources.deleteResource({ name: shared }), Code.FailedPrecondition, /DeleteSharedPolicy/);

    for (const other of ["b", "c"]) {
      await owner.sharedPolicies.createSharedPolicy({ parent: org, sharedPolicyId: `${id}-${other}`, sharedPolicy: { description: `other ${other}` } });
    }
    const first = await owner.sharedPolicies.listSharedPolicies({ parent: org, pageSize: 2 });
    expect(first.sharedPolicies.map((p) => p.name)).toEqual([shared, `${shared}-b`]);
    const second = await owner.sharedPolicies.listSharedPolicies({ parent: org, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.sharedPolicies.map((p) => p.name)).toEqual([`${shared}-c`]);
    expect(second.nextPageToken).toBe("");
    const filtered = await owner.sharedPolicies.listSharedPolicies({ parent: org, filter: "OTHER C" });
    expect(filtered.sharedPolicies.map((p) => p.name)).toEqual([`${shared}-c`]);

    await owner.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: cloud } });
    await expectCode(owner.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: cloud } }), Code.AlreadyExists);
    await expectCode(owner.sharedPolicies.deleteSharedPolicy({ name: shared }), Code.FailedPrecondition, /bound to 1 resource/);
    await expectCode(owner.sharedPolicies.deleteSharedPolicy({ name: shared, etag: created.etag, force: true }), Code.Aborted);
    const deleted = await owner.sharedPolicies.deleteSharedPolicy({ name: shared, force: true });
    expect(deleted.deletedBindings).toBe(1);
    await expectCode(owner.sharedPolicies.getSharedPolicy({ name: shared }), Code.NotFound);
    expect((await owner.sharedPolicies.listSharedPolicyBindings({ target: cloud })).bindings).toEqual([]);
  });

  test("half-bindings: creating needs both halves, deleting either; listing by policy or by target", async () => {
    const { org, project, shared } = await tree();
    const owner = await as(OWNER, port);
    await owner.sharedPolicies.createSharedPolicy({ parent: org, sharedPolicyId: shared.split("/")[1]!, sharedPolicy: {} });
    // The shared policy's own access policy: the platform team owns it; the others may read it or edit it.
    await owner.policies.setPolicy({
      resource: shared,
      policy: {
        bindings: [
          binding("roles/owner", `user:${PLATFORM}`),
          binding("roles/collaborator", `user:${BOTH}`),
          binding("roles/readonly", `user:${PROJECT_OWNER}`),
        ],
      },
    });
    const platform = await as(PLATFORM, port);
    const projectOwner = await as(PROJECT_OWNER, port);
    const both = await as(BOTH, port);
    const sam = await as(SAM, port);
    const bind = { binding: { sharedPolicy: shared, target: project } };
    await expectCode(platform.sharedPolicies.createSharedPolicyBinding(bind), Code.PermissionDenied, /projects.createSharedPolicyBinding/);
    await expectCode(projectOwner.sharedPolicies.createSharedPolicyBinding(bind), Code.PermissionDenied, /sharedPolicies.createBinding/);
    await expectCode(sam.sharedPolicies.createSharedPolicyBinding(bind), Code.NotFound);
    const created = await both.sharedPolicies.createSharedPolicyBinding(bind);
    expect(created).toMatchObject({ sharedPolicy: shared, target: project });
    expect(created.sequence).toBeGreaterThan(0n);

    expect((await platform.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared })).bindings.map((b) => b.target)).toEqual([project]);
    expect((await projectOwner.sharedPolicies.listSharedPolicyBindings({ target: project })).bindings.map((b) => b.sharedPolicy)).toEqual([shared]);
    await expectCode(sam.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared }), Code.NotFound);
    await expectCode(platform.sharedPolicies.listSharedPolicyBindings({}), Code.InvalidArgument);
    expect((await platform.sharedPolicies.getSharedPolicyBinding({ sharedPolicy: shared, target: project })).target).toBe(project);
    await expectCode(sam.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: shared, target: project }), Code.NotFound);

    // Either half deletes.
    await platform.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: shared, target: project });
    await expectCode(platform.sharedPolicies.getSharedPolicyBinding({ sharedPolicy: shared, target: project }), Code.NotFound);
    await both.sharedPolicies.createSharedPolicyBinding(bind);
    await projectOwner.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: shared, target: project });
    expect((await owner.sharedPolicies.listSharedPolicyBindings({ target: project })).bindings).toEqual([]);

    // The shared policy's editors cannot manage access to it; edit rights to it are not rights on the project.
    await expectCode(both.policies.setPolicy({ resource: shared, policy: { bindings: [] } }), Code.PermissionDenied, /sharedPolicies.setPolicy/);
    await expectCode(platform.policies.setPolicy({ resource: project, policy: { bindings: [] } }), Code.PermissionDenied);
  });

  test("bound shared policies grant and deny along the chain; lookups and explanations name them", async () => {
    const { org, cloud, project, shared } = await tree();
    const owner = await as(OWNER, port);
    const sam = await as(SAM, port);
    await owner.sharedPolicies.createSharedPolicy({
      parent: org,
      sharedPolicyId: shared.split("/")[1]!,
      sharedPolicy: { bindings: [binding("roles/collaborator", `user:${SAM}`)] },
    });
    await expectCode(sam.resources.getResource({ name: project }), Code.NotFound);
    const bound = await owner.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: cloud } });
    // The service's own authorization reads the shared policy on the cloud: SAM collaborates on its projects.
    expect((await sam.resources.getResource({ name: project })).name).toBe(project);

    const check = () =>
      owner.access.checkAccess({ resource: project, principals: [`user:${SAM}`], permissions: ["projects.delete"], explain: true });
    let answer = await check();
    expect(answer.grantedPermissions).toEqual(["projects.delete"]);
    expect(answer.results[0]!.explanations.find((e) => e.state === AccessState.GRANTED)).toMatchObject({
      role: "roles/collaborator",
      resource: cloud,
      sharedPolicy: shared,
    });
    const effective = await owner.policies.lookupEffectivePolicy({ resource: project });
    expect(effective.bindings.filter((b) => b.sharedPolicy).map((b) => [b.sharedPolicy, b.resource, b.binding?.role])).toEqual([
      [shared, cloud, "roles/collaborator"],
    ]);
    expect(effective.sharedPolicies.map((p) => [p.sharedPolicy?.name, p.resource])).toEqual([[shared, cloud]]);
    expect(bound.sequence).toBeGreaterThan(0n);

    // A deny rule of the shared policy wins over the allow of the project's own policy (root precedence).
    const current = await owner.sharedPolicies.getSharedPolicy({ name: shared });
    await owner.sharedPolicies.updateSharedPolicy({
      sharedPolicy: { name: shared, etag: current.etag, denyRules: [{ deniedPrincipals: [`user:${SAM}`], deniedPermissions: ["projects.delete"] }] },
      updateMask: { paths: ["deny_rules"] },
    });
    await owner.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", `user:${SAM}`)] } });
    answer = await check();
    expect(AccessState[answer.results[0]!.state]).toBe("DENIED");
    expect(answer.results[0]!.denyExplanations[0]).toMatchObject({ resource: cloud, sharedPolicy: shared, ruleIndex: 0 });
    expect((await sam.policies.testIamPermissions({ resource: project, permissions: ["projects.delete", "projects.update"] })).permissions).toEqual([
      "projects.update",
    ]);
    const lookedUp = await owner.policies.lookupEffectivePolicy({ resource: project });
    expect(lookedUp.denyRules.map((r) => [r.sharedPolicy, r.resource])).toEqual([[shared, cloud]]);
    // The dedicated policies are still listed as before, next to the shared ones.
    expect(lookedUp.policies.map((p) => p.resource)).toEqual([project, org]);

    // Unbound: neither the grant nor the deny applies any more, at once.
    const unbound = await owner.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: shared, target: cloud });
    answer = await owner.access.checkAccess({ resource: project, principals: [`user:${SAM}`], permissions: ["projects.delete"], minSequence: unbound.sequence });
    expect(answer.grantedPermissions).toEqual(["projects.delete"]);
    expect((await owner.policies.lookupEffectivePolicy({ resource: project })).sharedPolicies).toEqual([]);
  });

  test("a target outside the organization, a shared policy as target, and the per-resource limit are refused", async () => {
    const { org, shared } = await tree();
    const other = await tree();
    await admin.sharedPolicies.createSharedPolicy({ parent: org, sharedPolicyId: shared.split("/")[1]!, sharedPolicy: {} });
    const client = port === "grpc-js port" ? await as("root@example.com", port) : admin;
    await expectCode(
      client.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: other.project } }),
      Code.FailedPrecondition,
      /organization/,
    );
    await expectCode(client.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: shared } }), Code.InvalidArgument);
    for (let i = 0; i < 20; i++) {
      const name = `${shared}-${i}`;
      await client.sharedPolicies.createSharedPolicy({ parent: org, sharedPolicyId: name.split("/")[1]!, sharedPolicy: {} });
      await client.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: name, target: org } });
    }
    await expectCode(client.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: org } }), Code.FailedPrecondition, /at most 20/);
    const page = await client.sharedPolicies.listSharedPolicyBindings({ target: org, pageSize: 15 });
    expect(page.bindings).toHaveLength(15);
    expect((await client.sharedPolicies.listSharedPolicyBindings({ target: org, pageToken: page.nextPageToken, pageSize: 15 })).bindings).toHaveLength(5);
  });

  test("a binding follows its target when it moves, and goes when the target is deleted with a cascade", async () => {
    const { org, cloud, project, shared } = await tree();
    const client = await as("root@example.com", port);
    await client.sharedPolicies.createSharedPolicy({
      parent: org,
      sharedPolicyId: shared.split("/")[1]!,
      sharedPolicy: { bindings: [binding("roles/readonly", `user:${SAM}`)] },
    });
    const otherCloud = `clouds/${uniqueId("cld")}`;
    await client.resources.createResource({ resource: { name: otherCloud, parent: org } });
    await client.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: cloud } });
    const holds = async (resource: string) =>
      (await client.access.checkAccess({ resource, principals: [`user:${SAM}`], permissions: ["projects.get"] })).grantedPermissions;
    expect(await holds(project)).toEqual(["projects.get"]);
    // The project moves out from under the bound cloud: the shared policy no longer applies to it.
    await client.resources.updateResource({ resource: { name: project, parent: otherCloud }, updateMask: { paths: ["parent"] } });
    expect(await holds(project)).toEqual([]);
    // A binding on the project itself moves with it.
    await client.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: project } });
    await client.resources.updateResource({ resource: { name: project, parent: cloud }, updateMask: { paths: ["parent"] } });
    expect((await client.policies.lookupEffectivePolicy({ resource: project })).sharedPolicies.map((p) => p.resource)).toEqual([project, cloud]);
    await client.resources.deleteResource({ name: cloud, cascade: true });
    expect((await client.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: shared })).bindings).toEqual([]);
    // The organization's cascade delete takes its shared policies.
    await client.resources.deleteResource({ name: org, cascade: true });
    await expectCode(client.sharedPolicies.getSharedPolicy({ name: shared }), Code.NotFound);
  });

  test("Watch sends shared-policy and binding changes", async () => {
    const { org, cloud, shared } = await tree();
    const client = await as("root@example.com", port);
    const controller = new AbortController();
    const kinds = [
      ChangeKind.SHARED_POLICY_CREATED,
      ChangeKind.SHARED_POLICY_UPDATED,
      ChangeKind.SHARED_POLICY_DELETED,
      ChangeKind.SHARED_POLICY_BOUND,
      ChangeKind.SHARED_POLICY_UNBOUND,
    ];
    const stream = client.watch.watch({ subtree: org, kinds }, { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.event.case).toBe("progress");
    const created = await client.sharedPolicies.createSharedPolicy({ parent: org, sharedPolicyId: shared.split("/")[1]!, sharedPolicy: {} });
    await client.sharedPolicies.updateSharedPolicy({ sharedPolicy: { name: shared, description: "d" }, updateMask: { paths: ["description"] } });
    await client.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: cloud } });
    await client.sharedPolicies.deleteSharedPolicy({ name: shared, force: true });
    const seen: [string, string][] = [];
    while (seen.length < 5) {
      const next = await stream.next();
      const event = next.value?.event;
      if (event?.case !== "change") continue;
      seen.push([ChangeKind[event.value.kind], event.value.resource]);
      if (event.value.kind === ChangeKind.SHARED_POLICY_CREATED) expect(event.value.sharedPolicy?.etag).toEqual(created.etag);
      if (event.value.kind === ChangeKind.SHARED_POLICY_BOUND) expect(event.value.sharedPolicyBinding?.sharedPolicy).toBe(shared);
    }
    controller.abort();
    expect(seen).toEqual([
      ["SHARED_POLICY_CREATED", shared],
      ["SHARED_POLICY_UPDATED", shared],
      ["SHARED_POLICY_BOUND", cloud],
      ["SHARED_POLICY_UNBOUND", cloud],
      ["SHARED_POLICY_DELETED", shared],
    ]);
  });
});
