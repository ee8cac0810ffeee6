// Google IAM's policy semantics, end to end over gRPC: etags, versions, conditions, update_mask, DeletePolicy.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AuditLogConfig_LogType } from "../../gen/policy/v1/policy_pb.js";
import type { ApiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { binding, createHierarchy, expectCode, uniqueId } from "./support.js";

let server: TestServer;
let api: ApiClients;
beforeAll(async () => {
  server = await startTestServer();
  api = server.grpc;
});
afterAll(() => server?.stop());

async function newOrganization(): Promise<string> {
  const name = `organizations/${uniqueId("org")}`;
  await api.resources.createResource({ resource: { name } });
  return name;
}

const OWNER = binding("roles/owner", "user:ada@example.com");
const BUSINESS_HOURS = {
  expression: 'request.time < timestamp("2030-01-01T00:00:00Z")',
  title: "until 2030",
};

describe("etag", () => {
  test("a registered resource without a policy has an empty policy with an etag, version 1", async () => {
    const { project } = await createHierarchy(api);
    const policy = await api.policies.getPolicy({ resource: project });
    expect(policy.bindings).toEqual([]);
    expect(policy.etag.length).toBeGreaterThan(0);
    expect(policy.version).toBe(1);
  });

  test("GetPolicy after SetPolicy returns the etag SetPolicy returned", async () => {
    const org = await newOrganization();
    const set = await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } });
    const got = await api.policies.getPolicy({ resource: org });
    expect(got.etag).toEqual(set.etag);
  });

  test("the etag changes on every write, even one that rewrites the same policy", async () => {
    const org = await newOrganization();
    const etags = [(await api.policies.getPolicy({ resource: org })).etag];
    for (let i = 0; i < 3; i++) {
      const set = await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } });
      etags.push(set.etag);
    }
    const distinct = new Set(etags.map((e) => Buffer.from(e).toString("hex")));
    expect(distinct.size).toBe(etags.length);
  });

  test("a write with the current etag succeeds", async () => {
    const org = await newOrganization();
    const { etag } = await api.policies.getPolicy({ resource: org });
    const set = await api.policies.setPolicy({ resource: org, policy: { etag, bindings: [OWNER] } });
    expect(set.bindings).toHaveLength(1);
  });

  test("a stale etag is ABORTED with a message that says to read again", async () => {
    const org = await newOrganization();
    const { etag } = await api.policies.getPolicy({ resource: org });
    await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } });
    const error = await expectCode(
      api.policies.setPolicy({ resource: org, policy: { etag, bindings: [binding("roles/owner", "allUsers")] } }),
      Code.Aborted,
    );
    expect(error.rawMessage).toMatch(/read it again/);
  });
});

test("an etag from before a resource was deleted and registered again is stale", async () => {
  const { cloud, project } = await createHierarchy(api);
  const set = await api.policies.setPolicy({ resource: project, policy: { bindings: [OWNER] } });
  await api.resources.deleteResource({ name: project });
  await api.resources.createResource({ resource: { name: project, parent: cloud } });
  await expectCode(api.policies.setPolicy({ resource: project, policy: { etag: set.etag, bindings: [OWNER] } }), Code.Aborted);
});

describe("unknown resources", () => {
  test("GetPolicy of an unregistered resource is NOT_FOUND", async () => {
    await expectCode(api.policies.getPolicy({ resource: `projects/${uniqueId("ghost")}` }), Code.NotFound);
  });

  test("SetPolicy on an unregistered resource is NOT_FOUND and does not create it", async () => {
    const ghost = `organizations/${uniqueId("ghost")}`;
    await expectCode(api.policies.setPolicy({ resource: ghost, policy: { bindings: [OWNER] } }), Code.NotFound);
    await expectCode(api.resources.getResource({ name: ghost }), Code.NotFound);
    await expectCode(api.policies.getPolicy({ resource: ghost }), Code.NotFound);
  });
});

describe("versions and conditions", () => {
  async function conditionalPolicy() {
    const org = await newOrganization();
    const set = await api.policies.setPolicy({
      resource: org,
      policy: {
        version: 3,
        bindings: [OWNER, { ...binding("roles/collaborator", "user:bob@example.com"), condition: BUSINESS_HOURS }],
      },
    });
    return { org, set };
  }

  test("a version 3 policy keeps its condition and reads back as version 3", async () => {
    const { org, set } = await conditionalPolicy();
    expect(set.version).toBe(3);
    const got = await api.policies.getPolicy({ resource: org, options: { requestedPolicyVersion: 3 } });
    expect(got.version).toBe(3);
    const conditional = got.bindings.find((b) => b.role === "roles/collaborator");
    expect(conditional?.condition).toMatchObject(BUSINESS_HOURS);
  });

  test("requested_policy_version 1 returns the conditional binding renamed {role}_withcond_{hash}, without condition", async () => {
    const { org } = await conditionalPolicy();
    const got = await api.policies.getPolicy({ resource: org, options: { requestedPolicyVersion: 1 } });
    expect(got.version).toBe(1);
    expect(got.bindings.map((b) => b.role)).toContain("roles/owner");
    const renamed = got.bindings.filter((b) => b.role.startsWith("roles/collaborator_withcond_"));
    expect(renamed).toHaveLength(1);
    expect(renamed[0]!.role).toMatch(/^roles\/collaborator_withcond_[0-9a-f]+$/);
    expect(renamed[0]!.members).toEqual(["user:bob@example.com"]);
    expect(got.bindings.every((b) => b.condition === undefined)).toBe(true);
  });

  test("a version 1 reader cannot write the renamed binding back", async () => {
    const { org } = await conditionalPolicy();
    const v1 = await api.policies.getPolicy({ resource: org, options: { requestedPolicyVersion: 1 } });
    await expectCode(
      api.policies.setPolicy({ resource: org, policy: { etag: v1.etag, bindings: v1.bindings } }),
      Code.InvalidArgument,
    );
  });

  test.each([2, 4, -1])("requested_policy_version %i is INVALID_ARGUMENT", async (version) => {
    const org = await newOrganization();
    await expectCode(api.policies.getPolicy({ resource: org, options: { requestedPolicyVersion: version } }), Code.InvalidArgument);
  });

  test("a policy without conditions written as version 3 reads back as version 1", async () => {
    const org = await newOrganization();
    await api.policies.setPolicy({ resource: org, policy: { version: 3, bindings: [OWNER] } });
    const got = await api.policies.getPolicy({ resource: org, options: { requestedPolicyVersion: 3 } });
    expect(got.version).toBe(1);
  });

  test("an etag-less write that would drop stored conditions is FAILED_PRECONDITION", async () => {
    const { org, set } = await conditionalPolicy();
    await expectCode(api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } }), Code.FailedPrecondition);
    const got = await api.policies.getPolicy({ resource: org, options: { requestedPolicyVersion: 3 } });
    expect(got.etag).toEqual(set.etag);
  });

  test("a version-3 write with the current etag may drop the conditions", async () => {
    const { org, set } = await conditionalPolicy();
    const written = await api.policies.setPolicy({ resource: org, policy: { version: 3, etag: set.etag, bindings: [OWNER] } });
    expect(written.version).toBe(1);
    expect(written.bindings.map((b) => b.role)).toEqual(["roles/owner"]);
  });

  test("a version-1 write with the current etag that drops them is FAILED_PRECONDITION, as IAM requires version 3", async () => {
    const { org, set } = await conditionalPolicy();
    const error = await expectCode(
      api.policies.setPolicy({ resource: org, policy: { version: 1, etag: set.etag, bindings: [OWNER] } }),
      Code.FailedPrecondition,
    );
    expect(error.rawMessage).toContain("version to 3");
    expect((await api.policies.getPolicy({ resource: org, options: { requestedPolicyVersion: 3 } })).etag).toEqual(set.etag);
  });
});

describe("update_mask", () => {
  const AUDIT = [{ service: "allServices", auditLogConfigs: [{ logType: AuditLogConfig_LogType.DATA_WRITE }] }];

  test("audit_configs are written only when the mask names them", async () => {
    const org = await newOrganization();
    const defaultMask = await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER], auditConfigs: AUDIT } });
    expect(defaultMask.auditConfigs).toEqual([]);

    const named = await api.policies.setPolicy({
      resource: org,
      policy: { bindings: [OWNER], auditConfigs: AUDIT },
      updateMask: { paths: ["bindings", "audit_configs"] },
    });
    expect(named.auditConfigs).toEqual([expect.objectContaining({ service: "allServices" })]);
    expect(named.auditConfigs[0]!.auditLogConfigs.map((c) => c.logType)).toEqual([AuditLogConfig_LogType.DATA_WRITE]);
  });

  test("a mask of audit_configs alone keeps the stored bindings", async () => {
    const org = await newOrganization();
    await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } });
    const set = await api.policies.setPolicy({
      resource: org,
      policy: { auditConfigs: AUDIT },
      updateMask: { paths: ["audit_configs"] },
    });
    expect(set.bindings.map((b) => [b.role, b.members])).toEqual([["roles/owner", ["user:ada@example.com"]]]);
    expect(set.auditConfigs).toHaveLength(1);
  });

  test("a default-mask write keeps stored audit_configs", async () => {
    const org = await newOrganization();
    await api.policies.setPolicy({ resource: org, policy: { auditConfigs: AUDIT }, updateMask: { paths: ["audit_configs"] } });
    const set = await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } });
    expect(set.auditConfigs).toHaveLength(1);
  });
});

describe("canonical form", () => {
  test("bindings of the same role are merged, members de-duplicated and sorted", async () => {
    const org = await newOrganization();
    const set = await api.policies.setPolicy({
      resource: org,
      policy: {
        bindings: [
          binding("roles/owner", "user:zed@example.com", "user:ada@example.com"),
          binding("roles/collaborator", "group:ug_1"),
          binding("roles/owner", "user:ada@example.com", "user:bob@example.com"),
        ],
      },
    });
    expect(set.bindings.map((b) => [b.role, b.members])).toEqual([
      ["roles/collaborator", ["group:ug_1"]],
      ["roles/owner", ["user:ada@example.com", "user:bob@example.com", "user:zed@example.com"]],
    ]);
  });
});

describe("DeletePolicy", () => {
  test("with the current etag it leaves an empty policy with a new etag", async () => {
    const org = await newOrganization();
    const set = await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } });
    const deleted = await api.policies.deletePolicy({ resource: org, etag: set.etag });
    expect(deleted.etag).not.toEqual(set.etag);
    const got = await api.policies.getPolicy({ resource: org });
    expect(got.bindings).toEqual([]);
    expect(got.etag).toEqual(deleted.etag);
  });

  test("without an etag it deletes unconditionally", async () => {
    const org = await newOrganization();
    await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } });
    await api.policies.deletePolicy({ resource: org });
    expect((await api.policies.getPolicy({ resource: org })).bindings).toEqual([]);
  });

  test("with a stale etag it is ABORTED and the policy stays", async () => {
    const org = await newOrganization();
    const { etag } = await api.policies.getPolicy({ resource: org });
    const set = await api.policies.setPolicy({ resource: org, policy: { bindings: [OWNER] } });
    await expectCode(api.policies.deletePolicy({ resource: org, etag }), Code.Aborted);
    const got = await api.policies.getPolicy({ resource: org });
    expect(got.etag).toEqual(set.etag);
    expect(got.bindings).toHaveLength(1);
  });

  test("of an unregistered resource is NOT_FOUND", async () => {
    await expectCode(api.policies.deletePolicy({ resource: `clouds/${uniqueId("ghost")}` }), Code.NotFound);
  });
});
