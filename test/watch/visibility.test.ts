// A Watch stream is authorized change by change: a caller who may read the policies of part of a subtree sees the
// changes of that part only — writes, moves and deletes elsewhere never reach it — on every protocol and both ports;
// each kind of change needs the permission of its own read, and deny rules refuse it as they refuse the read.
import { toJson } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ChangeKind, ChangeSchema } from "../../gen/policy/v1/watch_service_pb.js";
import {
  ADMIN,
  PORTS,
  apiClients,
  binding,
  clientsAs,
  signingKey,
  startTokenServer,
  tokenFor,
  uniqueId,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { follow, seenAndHiddenTree, treeNames, grantPolicy, type Follower } from "../helpers/watch.js";

const TREE = treeNames("vis");
const { org: ORG, seenCloud: SEEN_CLOUD, hiddenCloud: HIDDEN_CLOUD, seenProject: SEEN_PROJECT, hiddenProject: HIDDEN_PROJECT } = TREE;

let key: SigningKey;
let server: SecureServer;
let admin: ApiClients;

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = apiClients(server.url, { token: await tokenFor(key, ADMIN.slice("user:".length)) });
  await seenAndHiddenTree(admin, TREE);
});

afterAll(async () => {
  await server?.stop();
});

describe.each(["connect", "grpc"] as const)("over %s", (protocol) => {
  test("a caller sees the changes of what it may read, and nothing of the rest of the subtree", async () => {
    const ada = apiClients(server.url, { token: await tokenFor(key, "ada@example.com"), protocol });
    const adaFollows = follow(ada.watch, { subtree: ORG });
    const adminFollows = follow(admin.watch, { subtree: ORG });
    await adaFollows.until((f) => f.messages.length > 0);
    await adminFollows.until((f) => f.messages.length > 0);

    const suffix = protocol === "grpc" ? "g" : "c";
    const hiddenNew = `projects/vis_hidden_new_${suffix}`;
    await admin.policies.setPolicy({ resource: HIDDEN_PROJECT, policy: grantPolicy(`user:h${suffix}@example.com`) });
    await admin.resources.createResource({ resource: { name: hiddenNew, parent: HIDDEN_CLOUD } });
    await admin.resources.deleteResource({ name: hiddenNew });
    const seen = await admin.policies.setPolicy({
      resource: SEEN_PROJECT,
      policy: { bindings: [binding("roles/owner", "user:ada@example.com"), binding("roles/readonly", `user:s${suffix}@example.com`)] },
    });

    await adminFollows.until((f) => f.changes().some((c) => c.resource === SEEN_PROJECT));
    await adaFollows.until((f) => f.changes().some((c) => c.resource === SEEN_PROJECT));
    const adaSaw = adaFollows.changes().map((c) => c.resource);
    expect(adaSaw).toEqual([SEEN_PROJECT]);
    expect(adaFollows.changes()[0]!.policy?.etag).toEqual(seen.etag);
    expect(adminFollows.changes().map((c) => c.resource)).toEqual([HIDDEN_PROJECT, hiddenNew, hiddenNew, SEEN_PROJECT]);
    await adaFollows.stop();
    await adminFollows.stop();
  });
});

test("resuming from the start, the caller's history holds only what it may read", async () => {
  const ada = apiClients(server.url, { token: await tokenFor(key, "ada@example.com") });
  const f = follow(ada.watch, { afterSequence: 0n });
  await f.until((x) => x.messages.some((m) => m.event.case === "progress"));
  const resources = new Set(f.changes().map((c) => c.resource));
  await f.stop();
  expect(resources.has(SEEN_PROJECT)).toBe(true);
  for (const hidden of [ORG, SEEN_CLOUD, HIDDEN_CLOUD, HIDDEN_PROJECT]) expect(resources.has(hidden), hidden).toBe(false);
});

describe.each(PORTS)("each kind needs its own read's permission, over the %s", (port) => {
  test("a caller refused GetDenyPolicy, GetRole and GetSharedPolicy receives none of their content; one holding only those receives no policy", async () => {
    const suffix = uniqueId("k");
    const org = `organizations/${uniqueId("kinds")}`;
    const [project, other] = [`projects/${uniqueId("kp")}`, `projects/${uniqueId("kq")}`];
    const [policyReader, contentReader] = [`frank-${suffix}@example.com`, `gina-${suffix}@example.com`];
    await admin.resources.createResource({ resource: { name: org } });
    for (const name of [project, other]) await admin.resources.createResource({ resource: { name, parent: org } });
    for (const [roleId, permissions] of [
      ["policyReader", ["organizations.getPolicy", "projects.getPolicy"]],
      ["contentReader", ["projects.getDenyPolicy", "organizations.getRole", "sharedPolicies.get", "projects.getSharedPolicyBinding"]],
    ] as const) {
      await admin.roles.createRole({ parent: org, roleId, role: { includedPermissions: [...permissions] } });
    }
    await admin.policies.setPolicy({
      resource: org,
      policy: { bindings: [binding(`${org}/roles/policyReader`, `user:${policyReader}`), binding(`${org}/roles/contentReader`, `user:${contentReader}`)] },
    });
    const watchAs = async (email: string) => {
      const f = follow((await clientsAs(server, key, email, port)).watch, { subtree: org });
      await f.until((x) => x.messages.length > 0);
      return f;
    };
    const [frank, gina] = [await watchAs(policyReader), await watchAs(contentReader)];

    await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/readonly", `user:policy-member-${suffix}@example.com`)] } });
    await admin.denyPolicies.setDenyPolicy({
      resource: project,
      denyPolicy: { rules: [{ description: `rule ${suffix}`, deniedPrincipals: ["user:x@example.com"], deniedPermissions: ["projects.delete"] }] },
    });
    await admin.roles.createRole({ parent: org, roleId: "deployer", role: { title: `role ${suffix}`, includedPermissions: ["projects.update"] } });
    const shared = `sharedPolicies/${uniqueId("ks")}`;
    await admin.sharedPolicies.createSharedPolicy({
      parent: org,
      sharedPolicyId: shared.slice("sharedPolicies/".length),
      sharedPolicy: { description: `shared ${suffix}`, bindings: [binding("roles/readonly", `user:shared-member-${suffix}@example.com`)] },
    });
    await admin.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared, target: project } });
    // The last change each may see: the other's would have come before it.
    await admin.policies.setPolicy({ resource: other, policy: { bindings: [binding("roles/readonly", "user:marker@example.com")] } });
    await admin.sharedPolicies.updateSharedPolicy({ sharedPolicy: { name: shared, description: "marker" }, updateMask: { paths: ["description"] } });

    await frank.until((f) => f.changes().some((c) => c.resource === other));
    await gina.until((f) => f.changes().some((c) => c.kind === ChangeKind.SHARED_POLICY_UPDATED));
    await frank.stop();
    await gina.stop();
    const kinds = (f: Follower) => f.changes().map((c) => [ChangeKind[c.kind], c.resource]);
    expect(kinds(frank)).toEqual([["POLICY_SET", project], ["POLICY_SET", other]]);
    expect(kinds(gina)).toEqual([
      ["DENY_POLICY_SET", project],
      ["ROLE_CHANGED", org],
      ["SHARED_POLICY_CREATED", shared],
      ["SHARED_POLICY_BOUND", project],
      ["SHARED_POLICY_UPDATED", shared],
    ]);
    const frankReceived = JSON.stringify(frank.changes().map((c) => toJson(ChangeSchema, c)));
    for (const hidden of [`rule ${suffix}`, `role ${suffix}`, `shared ${suffix}`, "shared-member"]) expect(frankReceived).not.toContain(hidden);
    expect(JSON.stringify(gina.changes().map((c) => toJson(ChangeSchema, c)))).not.toContain(`policy-member-${suffix}`);
  });

  test("a deny rule refusing an organization's owner projects.getPolicy on a project hides that project's changes", async () => {
    const owner = `ivan-${uniqueId("o")}@example.com`;
    const org = `organizations/${uniqueId("denyorg")}`;
    const [denied, open] = [`projects/${uniqueId("dp")}`, `projects/${uniqueId("op")}`];
    await admin.resources.createResource({ resource: { name: org } });
    await admin.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", `user:${owner}`)] } });
    for (const name of [denied, open]) await admin.resources.createResource({ resource: { name, parent: org } });
    await admin.denyPolicies.setDenyPolicy({
      resource: denied,
      denyPolicy: { rules: [{ deniedPrincipals: [`user:${owner}`], deniedPermissions: ["projects.getPolicy"] }] },
    });
    const f = follow((await clientsAs(server, key, owner, port)).watch, { subtree: org });
    await f.until((x) => x.messages.length > 0);
    await admin.policies.setPolicy({ resource: denied, policy: { bindings: [binding("roles/readonly", "user:hidden@example.com")] } });
    await admin.policies.setPolicy({ resource: open, policy: { bindings: [binding("roles/readonly", "user:shown@example.com")] } });
    await f.until((x) => x.changes().some((c) => c.resource === open));
    await f.stop();
    expect(f.changes().map((c) => c.resource)).toEqual([open]);
  });
});
