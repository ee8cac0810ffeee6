// Authorization by the service's own policies: every RPC needs a permission on a resource (or is for administrators
// only), roles granted on an ancestor apply below it, and a caller cannot learn that a resource it may not see exists.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as reflectionV1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import {
  ADMIN,
  apiClients,
  binding,
  expectCode,
  failureOf,
  mint,
  signingKey,
  snapshot,
  startTokenServer,
  tokenFor,
  uniqueId,
  type ApiClients,
  type Protocol,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";

let server: SecureServer;
let key: SigningKey;

// Who is who.
const OWNER = "olivia@example.com"; // roles/owner on the organization
const COLLABORATOR = "carl@example.com"; // roles/collaborator on the organization
const READONLY = "rita@example.com"; // roles/readonly on the cloud
const PROJECT_READER = "pat@example.com"; // roles/readonly on the project only
const PROJECT_COLLABORATOR = "paula@example.com"; // roles/collaborator on the project only
const CHECKER = "checker@example.com"; // roles/checker on the organization (a service account)
const OUTSIDER = "eve@example.com"; // nothing anywhere

// The hierarchy: org > cloud > project, and another organization nobody above may see.
let org: string;
let cloud: string;
let project: string;
let otherOrg: string;
let otherProject: string;

const as = async (email: string, protocol: Protocol = "connect"): Promise<ApiClients> =>
  apiClients(server.url, { token: await tokenFor(key, email), protocol });
const asServiceAccount = async (email: string): Promise<ApiClients> =>
  apiClients(server.url, { token: await mint(key, { sub: `serviceAccount:${email}` }) });
let admin: ApiClients;

/** The project's own grants (set before the tests, and again by the inheritance test: each test can run alone). */
const PROJECT_POLICY = { bindings: [binding("roles/collaborator", `user:${PROJECT_COLLABORATOR}`), binding("roles/readonly", `user:${PROJECT_READER}`)] };

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = await as("root@example.com");
  org = `organizations/${uniqueId("acme")}`;
  cloud = `clouds/${uniqueId("cld")}`;
  project = `projects/${uniqueId("prj")}`;
  otherOrg = `organizations/${uniqueId("hidden")}`;
  otherProject = `projects/${uniqueId("hiddenprj")}`;
  // An administrator (--admins) creates the organizations and sets their policies.
  await admin.resources.createResource({ resource: { name: org, displayName: "Acme" } });
  await admin.resources.createResource({ resource: { name: otherOrg } });
  await admin.resources.createResource({ resource: { name: otherProject, parent: otherOrg } });
  await admin.policies.setPolicy({
    resource: org,
    policy: {
      bindings: [
        binding("roles/owner", `user:${OWNER}`),
        binding("roles/collaborator", `user:${COLLABORATOR}`),
        binding("roles/checker", `serviceAccount:${CHECKER}`),
      ],
    },
  });
  await admin.policies.setPolicy({ resource: otherOrg, policy: { bindings: [binding("roles/owner", "user:someone@else.example")] } });
  // The owner builds the rest: inheritance lets it create under the organization.
  const owner = await as(OWNER);
  await owner.resources.createResource({ resource: { name: cloud, parent: org } });
  await owner.resources.createResource({ resource: { name: project, parent: cloud } });
  await owner.policies.setPolicy({ resource: cloud, policy: { bindings: [binding("roles/readonly", `user:${READONLY}`)] } });
  await owner.policies.setPolicy({ resource: project, policy: PROJECT_POLICY });
});
afterAll(async () => {
  await server?.stop();
});

describe("administrators", () => {
  test("an administrator created the organization and set its policy", async () => {
    const policy = await admin.policies.getPolicy({ resource: org });
    expect(policy.bindings.map((b) => b.role)).toEqual(["roles/checker", "roles/collaborator", "roles/owner"]);
    const { entries } = await admin.audit.listAuditEntries({ resource: org });
    expect(entries.map((e) => [e.action, e.principal])).toEqual([
      ["resource.create", ADMIN],
      ["policy.set", ADMIN],
    ]);
  });

  test("ListPolicies and ListResources without a parent are for administrators only", async () => {
    for (const who of [OWNER, COLLABORATOR, OUTSIDER]) {
      const caller = await as(who);
      await expectCode(caller.policies.listPolicies({ resourceType: "project" }), Code.PermissionDenied, /only the server's administrators may list policies/);
      await expectCode(caller.resources.listResources({}), Code.PermissionDenied, /only the server's administrators may list resources/);
      await expectCode(caller.resources.listResources({ type: "project" }), Code.PermissionDenied);
    }
    const names = (await admin.resources.listResources({ pageSize: 1000 })).resources.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining([org, cloud, project, otherOrg, otherProject]));
    expect((await admin.policies.listPolicies({ resourceType: "organization" })).resourcePolicies.length).toBeGreaterThanOrEqual(2);
  });

  test("with a parent, listing needs a permission on it", async () => {
    const owner = await as(OWNER);
    expect((await owner.resources.listResources({ parent: org })).resources.map((r) => r.name)).toEqual([cloud]);
    expect((await owner.resources.listResources({ parent: cloud, type: "project" })).resources.map((r) => r.name)).toEqual([project]);
    expect((await owner.policies.listPolicies({ parent: org, resourceType: "cloud" })).resourcePolicies.map((p) => p.resource)).toEqual([cloud]);
    const reader = await as(READONLY);
    expect((await reader.resources.listResources({ parent: cloud, type: "project" })).resources.map((r) => r.name)).toEqual([project]);
    await expectCode(reader.policies.listPolicies({ parent: cloud, resourceType: "project" }), Code.PermissionDenied);
    await expectCode(reader.resources.listResources({ parent: org }), Code.NotFound);
  });

  test("nobody but an administrator creates a root resource", async () => {
    for (const who of [OWNER, COLLABORATOR]) {
      await expectCode(
        (await as(who)).resources.createResource({ resource: { name: `organizations/${uniqueId("root")}` } }),
        Code.PermissionDenied,
        /only the server's administrators may create a root resource/,
      );
    }
  });
});

describe("inheritance", () => {
  test.each(["connect", "grpc"] as const)("an organization owner manages a project's policy (%s)", async (protocol) => {
    const owner = await as(OWNER, protocol);
    const before = await owner.policies.getPolicy({ resource: project });
    const set = await owner.policies.setPolicy({
      resource: project,
      policy: { ...PROJECT_POLICY, etag: before.etag },
    });
    expect(set.bindings.map((b) => b.role)).toEqual(["roles/collaborator", "roles/readonly"]);
    expect((await owner.policies.getPolicy({ resource: project })).etag).toEqual(set.etag);
    const effective = await owner.policies.lookupEffectivePolicy({ resource: project });
    expect(effective.policies.map((p) => p.resource)).toEqual([project, cloud, org]);
    // The grants take effect for the members.
    expect((await (await as(PROJECT_READER)).resources.getResource({ name: project })).name).toBe(project);
  });

  test("an organization owner creates and deletes below it; a collaborator creates but cannot manage access", async () => {
    const owner = await as(OWNER);
    const collaborator = await as(COLLABORATOR);
    const extra = `projects/${uniqueId("extra")}`;
    await collaborator.resources.createResource({ resource: { name: extra, parent: cloud } });
    await collaborator.resources.updateResource({ resource: { name: extra, displayName: "renamed" }, updateMask: { paths: ["display_name"] } });
    await expectCode(collaborator.policies.setPolicy({ resource: extra, policy: { bindings: [] } }), Code.PermissionDenied);
    await owner.resources.deleteResource({ name: extra });
    await expectCode(owner.resources.getResource({ name: extra }), Code.NotFound);
  });
});

describe("privilege escalation", () => {
  test("a collaborator cannot grant itself owner, on the organization or below", async () => {
    const collaborator = await as(COLLABORATOR);
    for (const resource of [org, cloud, project]) {
      const before = await admin.policies.getPolicy({ resource, options: { requestedPolicyVersion: 3 } });
      const role = resource === cloud ? "roles/collaborator" : "roles/owner";
      const error = await expectCode(
        collaborator.policies.setPolicy({
          resource,
          policy: { etag: before.etag, bindings: [...before.bindings, binding(role, `user:${COLLABORATOR}`)] },
        }),
        Code.PermissionDenied,
      );
      expect(error.rawMessage).toBe(
        `user:${COLLABORATOR} lacks permission "${resource.split("/")[0]}.setPolicy" on "${resource}"; ask an owner of it or of an ancestor for a role that grants it`,
      );
      // Without an etag, and with an update mask: still refused.
      await expectCode(
        collaborator.policies.setPolicy({ resource, policy: { bindings: [binding(role, `user:${COLLABORATOR}`)] }, updateMask: { paths: ["bindings"] } }),
        Code.PermissionDenied,
      );
      await expectCode(collaborator.policies.deletePolicy({ resource }), Code.PermissionDenied);
      const after = await admin.policies.getPolicy({ resource, options: { requestedPolicyVersion: 3 } });
      expect(after).toEqual(before);
    }
    const tested = await collaborator.policies.testIamPermissions({ resource: org, permissions: ["organizations.setPolicy", "organizations.getPolicy"] });
    expect(tested.permissions).toEqual([]);
  });

  test("a project collaborator cannot move the project to where it may not create", async () => {
    const projectCollaborator = await as(PROJECT_COLLABORATOR);
    const before = await admin.resources.getResource({ name: project });
    await expectCode(
      projectCollaborator.resources.updateResource({ resource: { name: project, parent: org }, updateMask: { paths: ["parent"] } }),
      Code.NotFound,
    );
    await expectCode(
      projectCollaborator.resources.updateResource({ resource: { name: project, parent: otherOrg }, updateMask: { paths: ["parent"] } }),
      Code.NotFound,
    );
    expect(await admin.resources.getResource({ name: project })).toEqual(before);
  });

  test("a readonly member cannot change anything", async () => {
    const reader = await as(READONLY);
    // It can read.
    expect((await reader.resources.getResource({ name: cloud })).name).toBe(cloud);
    expect((await reader.resources.getResource({ name: project })).name).toBe(project);
    const before = await snapshot(admin);
    const cloudEtag = (await admin.resources.getResource({ name: cloud })).etag;
    const writes: [string, () => Promise<unknown>][] = [
      ["create a project in the cloud", () => reader.resources.createResource({ resource: { name: `projects/${uniqueId("ro")}`, parent: cloud } })],
      ["create a cloud in the organization", () => reader.resources.createResource({ resource: { name: `clouds/${uniqueId("ro")}`, parent: org } })],
      ["create a root", () => reader.resources.createResource({ resource: { name: `organizations/${uniqueId("ro")}` } })],
      ["rename the cloud", () => reader.resources.updateResource({ resource: { name: cloud, displayName: "mine", etag: cloudEtag }, updateMask: { paths: ["display_name"] } })],
      ["rename the project", () => reader.resources.updateResource({ resource: { name: project, displayName: "mine" }, updateMask: { paths: ["display_name"] } })],
      ["move the project", () => reader.resources.updateResource({ resource: { name: project, parent: org }, updateMask: { paths: ["parent"] } })],
      ["delete the project", () => reader.resources.deleteResource({ name: project })],
      ["delete the cloud with cascade", () => reader.resources.deleteResource({ name: cloud, cascade: true })],
      ["delete the organization", () => reader.resources.deleteResource({ name: org, cascade: true })],
      ["set the cloud's policy", () => reader.policies.setPolicy({ resource: cloud, policy: { bindings: [binding("roles/collaborator", `user:${READONLY}`)] } })],
      ["set the project's policy", () => reader.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", `user:${READONLY}`)] } })],
      ["set the organization's policy", () => reader.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", `user:${READONLY}`)] } })],
      ["delete the cloud's policy", () => reader.policies.deletePolicy({ resource: cloud })],
      ["delete the project's policy", () => reader.policies.deletePolicy({ resource: project })],
      ["delete the organization's policy", () => reader.policies.deletePolicy({ resource: org })],
    ];
    for (const [what, write] of writes) {
      const error = await failureOf(write());
      expect([Code.PermissionDenied, Code.NotFound], `${what}: ${error.message}`).toContain(error.code);
    }
    // What it can see is PERMISSION_DENIED; what it cannot see is NOT_FOUND.
    await expectCode(reader.resources.deleteResource({ name: cloud }), Code.PermissionDenied, /lacks permission "clouds.delete"/);
    await expectCode(reader.policies.setPolicy({ resource: org, policy: {} }), Code.NotFound);
    expect(await snapshot(admin)).toEqual(before);
  });
});

describe("hidden and absent resources", () => {
  /** Each call with the resource name to use, as an outsider would try it. */
  const CALLS: [string, (c: ApiClients, name: string, collection: string) => Promise<unknown>][] = [
    ["GetPolicy", (c, name) => c.policies.getPolicy({ resource: name })],
    ["SetPolicy", (c, name) => c.policies.setPolicy({ resource: name, policy: { bindings: [binding("roles/owner", `user:${OUTSIDER}`)] } })],
    ["DeletePolicy", (c, name) => c.policies.deletePolicy({ resource: name })],
    ["LookupEffectivePolicy", (c, name) => c.policies.lookupEffectivePolicy({ resource: name })],
    ["TestIamPermissions", (c, name, collection) => c.policies.testIamPermissions({ resource: name, permissions: [`${collection}.get`] })],
    ["ListPolicies", (c, name) => c.policies.listPolicies({ parent: name, resourceType: "project" })],
    ["GetResource", (c, name) => c.resources.getResource({ name })],
    ["ListResources", (c, name) => c.resources.listResources({ parent: name })],
    ["ListResources of a type", (c, name) => c.resources.listResources({ parent: name, type: "project" })],
    ["CreateResource under it", (c, name) => c.resources.createResource({ resource: { name: `projects/${uniqueId("p")}`, parent: name } })],
    ["UpdateResource", (c, name) => c.resources.updateResource({ resource: { name, displayName: "x" }, updateMask: { paths: ["display_name"] } })],
    ["DeleteResource", (c, name) => c.resources.deleteResource({ name, cascade: true })],
    ["CheckAccess", (c, name, collection) => c.access.checkAccess({ resource: name, principals: [`user:${OUTSIDER}`], permissions: [`${collection}.get`] })],
    ["ListAuditEntries", (c, name) => c.audit.listAuditEntries({ resource: name })],
  ];

  test.each(CALLS)("%s: the same NOT_FOUND for a hidden and an absent resource", async (_, call) => {
    const outsider = await as(OUTSIDER);
    const before = await snapshot(admin);
    for (const [hidden, collection] of [[otherOrg, "organizations"], [otherProject, "projects"], [org, "organizations"], [project, "projects"]] as const) {
      const absent = `${collection}/${uniqueId("absent")}`;
      const hiddenError = await expectCode(call(outsider, hidden, collection), Code.NotFound);
      const absentError = await expectCode(call(outsider, absent, collection), Code.NotFound);
      expect(hiddenError.rawMessage.replaceAll(hidden, "NAME")).toBe(absentError.rawMessage.replaceAll(absent, "NAME"));
      expect(hiddenError.rawMessage).toContain(hidden);
      // The same over gRPC.
      const grpcOutsider = await as(OUTSIDER, "grpc");
      const grpcHidden = await expectCode(call(grpcOutsider, hidden, collection), Code.NotFound);
      expect(grpcHidden.rawMessage).toBe(hiddenError.rawMessage);
    }
    expect(await snapshot(admin)).toEqual(before);
  });

  test("a resource deleted earlier is as absent as one that never existed, audit log included", async () => {
    const owner = await as(OWNER);
    const gone = `projects/${uniqueId("gone")}`;
    await owner.resources.createResource({ resource: { name: gone, parent: cloud } });
    await owner.resources.deleteResource({ name: gone });
    // The owner of its former parent: no longer any permission on it.
    await expectCode(owner.audit.listAuditEntries({ resource: gone }), Code.NotFound);
    await expectCode((await as(OUTSIDER)).audit.listAuditEntries({ resource: gone }), Code.NotFound);
    // Administrators still read its history.
    const { entries } = await admin.audit.listAuditEntries({ resource: gone });
    expect(entries.map((e) => e.action)).toEqual(["resource.create", "resource.delete"]);
  });

  test("a caller who can see a resource but lacks the permission gets PERMISSION_DENIED", async () => {
    const projectReader = await as(PROJECT_READER);
    expect((await projectReader.resources.getResource({ name: project })).name).toBe(project);
    await expectCode(projectReader.policies.getPolicy({ resource: project }), Code.PermissionDenied, /lacks permission "projects.getPolicy" on/);
    await expectCode(projectReader.policies.setPolicy({ resource: project, policy: {} }), Code.PermissionDenied, /"projects.setPolicy"/);
    await expectCode(projectReader.resources.deleteResource({ name: project }), Code.PermissionDenied, /"projects.delete"/);
    await expectCode(projectReader.audit.listAuditEntries({ resource: project }), Code.PermissionDenied, /"audit.list"/);
    // Its cloud is hidden from it.
    await expectCode(projectReader.resources.getResource({ name: cloud }), Code.NotFound);
    await expectCode(projectReader.policies.lookupEffectivePolicy({ resource: project }), Code.PermissionDenied);
  });
});

describe("sync consumers", () => {
  test("each organization's consumers are its own: listed, read, acknowledged and deleted only there", async () => {
    const owner = await as(OWNER);
    const outsider = await as(OUTSIDER);
    const ours = `consumers/${uniqueId("ours")}`;
    const theirs = `consumers/${uniqueId("theirs")}`;
    await owner.sync.createConsumer({ consumer: { name: ours, subtree: cloud } });
    await admin.sync.createConsumer({ consumer: { name: theirs, subtree: otherOrg } });
    // Without a subtree: administrators only; on a hidden subtree: as absent.
    await expectCode(owner.sync.createConsumer({ consumer: { name: `consumers/${uniqueId("all")}` } }), Code.PermissionDenied);
    await expectCode(owner.sync.createConsumer({ consumer: { name: `consumers/${uniqueId("x")}`, subtree: otherOrg } }), Code.NotFound);

    const listed = async (c: ApiClients) => (await c.sync.listConsumers({})).consumers.map((consumer) => consumer.name);
    expect(await listed(owner)).toContain(ours);
    expect(await listed(owner)).not.toContain(theirs);
    // Reading one needs the policy read of its subtree, which an organization's collaborator does not hold.
    expect(await listed(await as(COLLABORATOR))).not.toContain(ours);
    expect(await listed(outsider)).toEqual([]);
    expect(await listed(admin)).toEqual(expect.arrayContaining([ours, theirs]));

    const latest = async () => {
      const { acknowledgedSequence, lagSequences } = await owner.sync.getConsumer({ name: ours });
      return acknowledgedSequence + lagSequences;
    };
    const sequence = await latest();
    // One call at a time: a call made before its turn could fail before anything awaits it (an unhandled rejection).
    for (const call of [
      () => owner.sync.getConsumer({ name: theirs }),
      () => owner.sync.acknowledgeChanges({ consumer: theirs, sequence }),
      () => owner.sync.deleteConsumer({ name: theirs }),
      () => outsider.sync.acknowledgeChanges({ consumer: ours, sequence }),
    ]) {
      await expectCode(call(), Code.NotFound);
    }
    // Its own consumer cannot mark another organization's resource FAILED.
    await expectCode(
      owner.sync.acknowledgeChanges({ consumer: ours, sequence, failures: [{ resource: otherProject, sequence, message: "x" }] }),
      Code.InvalidArgument,
      /is not in the scope of/,
    );
    expect((await admin.sync.getSyncStatus({ resource: otherProject })).consumers.map((c) => [c.consumer, c.message])).toEqual([[theirs, ""]]);
    await owner.sync.acknowledgeChanges({ consumer: ours, sequence, failures: [{ resource: project, sequence, message: "x" }] });
    expect((await owner.sync.getConsumer({ name: ours })).failureCount).toBe(1);
    await owner.sync.deleteConsumer({ name: ours });
    await admin.sync.deleteConsumer({ name: theirs });
  });
});

describe("CheckAccess", () => {
  test("needs access.check: roles/checker on the organization grants it below", async () => {
    const checker = await asServiceAccount(CHECKER);
    const answer = await checker.access.checkAccess({
      resource: project,
      principals: [`user:${OWNER}`],
      permissions: ["projects.delete", "projects.setPolicy"],
    });
    expect(answer.grantedPermissions).toEqual(["projects.delete", "projects.setPolicy"]);
    const denied = await checker.access.checkAccess({ resource: project, principals: [`user:${OUTSIDER}`], permissions: ["projects.get"] });
    expect(denied.grantedPermissions).toEqual([]);
    // A checker may ask, but not change anything; it sees the organization only.
    await expectCode(checker.policies.setPolicy({ resource: org, policy: {} }), Code.PermissionDenied);
    await expectCode(checker.policies.getPolicy({ resource: org }), Code.PermissionDenied);
    await expectCode(checker.policies.setPolicy({ resource: project, policy: {} }), Code.NotFound);
  });

  test("a collaborator may not ask; an outsider is told the resource does not exist", async () => {
    const request = { resource: project, principals: [`user:${OWNER}`], permissions: ["projects.get"] };
    await expectCode((await as(COLLABORATOR)).access.checkAccess(request), Code.PermissionDenied, /lacks permission "access.check"/);
    await expectCode((await as(OUTSIDER)).access.checkAccess(request), Code.NotFound);
    await expectCode((await as(OUTSIDER)).access.checkAccess({ ...request, resource: otherOrg }), Code.NotFound);
  });
});

describe("TestIamPermissions", () => {
  const ASKED = ["projects.get", "projects.update", "projects.delete", "projects.getPolicy", "projects.setPolicy", "audit.list", "access.check"];

  test.each([
    ["the organization owner", OWNER, ASKED],
    ["an organization collaborator", COLLABORATOR, ["projects.get", "projects.update", "projects.delete"]],
    ["a cloud reader", READONLY, ["projects.get"]],
    ["a project collaborator", PROJECT_COLLABORATOR, ["projects.get", "projects.update"]],
    ["a project reader", PROJECT_READER, ["projects.get"]],
    ["the administrator", "root@example.com", ASKED],
  ])("%s gets exactly its subset, in request order", async (_, who, expected) => {
    const caller = await as(who);
    expect((await caller.policies.testIamPermissions({ resource: project, permissions: ASKED })).permissions).toEqual(expected);
    const reversed = [...ASKED].reverse();
    expect((await caller.policies.testIamPermissions({ resource: project, permissions: reversed })).permissions).toEqual(
      reversed.filter((p) => expected.includes(p)),
    );
  });

  test("the checker service account: organizations.get and access.check on the organization", async () => {
    const checker = await asServiceAccount(CHECKER);
    expect(
      (await checker.policies.testIamPermissions({ resource: org, permissions: ["organizations.get", "organizations.update", "access.check"] }))
        .permissions,
    ).toEqual(["organizations.get", "access.check"]);
  });

  test("NOT_FOUND for hidden resources; INVALID_ARGUMENT for unknown permissions", async () => {
    const outsider = await as(OUTSIDER);
    await expectCode(outsider.policies.testIamPermissions({ resource: project, permissions: ["projects.get"] }), Code.NotFound);
    await expectCode((await as(READONLY)).policies.testIamPermissions({ resource: org, permissions: ["organizations.get"] }), Code.NotFound);
    await expectCode((await as(OWNER)).policies.testIamPermissions({ resource: project, permissions: ["projects.fly"] }), Code.InvalidArgument);
    await expectCode((await as(OWNER)).policies.testIamPermissions({ resource: project, permissions: ["projects.*"] }), Code.InvalidArgument);
  });

  test("needs a token like every other RPC", async () => {
    await expectCode(apiClients(server.url).policies.testIamPermissions({ resource: project, permissions: ["projects.get"] }), Code.Unauthenticated);
  });
});

describe("open endpoints", () => {
  test.each(["main", "grpc"] as const)("health and reflection answer without a token on the %s port", async (port) => {
    const baseUrl = port === "main" ? server.url : `http://${server.grpcAddress}`;
    const anonymous = apiClients(baseUrl, { protocol: "grpc" });
    expect((await anonymous.health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await anonymous.health.check({ service: "policy.v1.PolicyService" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const reflection = createClient(reflectionV1.ServerReflection, createGrpcTransport({ baseUrl, defaultTimeoutMs: 15_000 }));
    const services: string[] = [];
    for await (const res of reflection.serverReflectionInfo(
      (async function* () {
        yield { messageRequest: { case: "listServices" as const, value: "" } };
      })(),
    )) {
      if (res.messageResponse.case === "listServicesResponse") services.push(...res.messageResponse.value.service.map((s) => s.name));
    }
    expect(services).toEqual(expect.arrayContaining(["policy.v1.PolicyService", "policy.v1.AuditService"]));
    // The API itself is not open.
    await expectCode(anonymous.policies.getPolicy({ resource: org }), Code.Unauthenticated);
  });
});
