// The consistency token: every write's response carries the change-log sequence it produced (`policy-sequence`
// header, and the message where it has room); CheckAccess with that min_sequence answers from state at least as fresh.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  PROTOCOLS,
  expectCode,
  startAccessServer,
  uniqueId,
  withSequence,
  type AccessTestServer,
  type Api,
} from "./support.js";

const ADA = "user:ada@example.com";

let running: AccessTestServer;
beforeAll(async () => {
  running = await startAccessServer();
});
afterAll(() => running?.stop());

describe.each(PROTOCOLS)("over %s", (protocol) => {
  let api: Api;
  beforeAll(() => {
    api = running[protocol];
  });

  /** Runs every kind of write in turn; returns each one's sequence, in order. */
  async function everyWrite(): Promise<Record<string, bigint>> {
    const org = `organizations/${uniqueId("org_")}`;
    const cloud = `clouds/${uniqueId("cld_")}`;
    const otherCloud = `clouds/${uniqueId("cld_")}`;
    const project = `projects/${uniqueId("prj_")}`;
    const seq: Record<string, bigint> = {};
    seq.createOrg = (await withSequence((o) => api.resources.createResource({ resource: { name: org } }, o))).sequence;
    seq.createCloud = (await withSequence((o) => api.resources.createResource({ resource: { name: cloud, parent: org } }, o))).sequence;
    seq.createOtherCloud = (
      await withSequence((o) => api.resources.createResource({ resource: { name: otherCloud, parent: org } }, o))
    ).sequence;
    seq.createProject = (
      await withSequence((o) => api.resources.createResource({ resource: { name: project, parent: cloud } }, o))
    ).sequence;
    seq.setPolicy = (
      await withSequence((o) =>
        api.policies.setPolicy({ resource: project, policy: { bindings: [{ role: "roles/owner", members: [ADA] }] } }, o),
      )
    ).sequence;
    seq.updateResource = (
      await withSequence((o) =>
        api.resources.updateResource({ resource: { name: project, parent: otherCloud }, updateMask: { paths: ["parent"] } }, o),
      )
    ).sequence;
    const deletePolicy = await withSequence((o) => api.policies.deletePolicy({ resource: project }, o));
    seq.deletePolicy = deletePolicy.sequence;
    seq.deletePolicyMessage = deletePolicy.response.sequence;
    const deleteResource = await withSequence((o) => api.resources.deleteResource({ name: project }, o));
    seq.deleteResource = deleteResource.sequence;
    seq.deleteResourceMessage = deleteResource.response.sequence;
    return seq;
  }

  test("every write's response carries a policy-sequence header, increasing from write to write", async () => {
    const seq = await everyWrite();
    const headers = [
      seq.createOrg,
      seq.createCloud,
      seq.createOtherCloud,
      seq.createProject,
      seq.setPolicy,
      seq.updateResource,
      seq.deletePolicy,
      seq.deleteResource,
    ];
    expect(headers[0]).toBeGreaterThan(0n);
    for (let i = 1; i < headers.length; i++) expect(headers[i], `write ${i}`).toBeGreaterThan(headers[i - 1]!);
  });

  test("DeletePolicyResponse.sequence and DeleteResourceResponse.sequence are set and match the header", async () => {
    const seq = await everyWrite();
    expect(seq.deletePolicyMessage).toBeGreaterThan(seq.updateResource);
    expect(seq.deletePolicyMessage).toBe(seq.deletePolicy);
    expect(seq.deleteResourceMessage).toBeGreaterThan(seq.deletePolicyMessage);
    expect(seq.deleteResourceMessage).toBe(seq.deleteResource);
  });

  test("a cascading delete's sequence covers every resource it deleted", async () => {
    const org = `organizations/${uniqueId("org_")}`;
    const cloud = `clouds/${uniqueId("cld_")}`;
    await api.resources.createResource({ resource: { name: org } });
    const created = await withSequence((o) => api.resources.createResource({ resource: { name: cloud, parent: org } }, o));
    const { response, sequence } = await withSequence((o) => api.resources.deleteResource({ name: org, cascade: true }, o));
    expect(response.deleted).toEqual([cloud, org]);
    expect(response.sequence).toBe(sequence);
    expect(sequence).toBeGreaterThanOrEqual(created.sequence + 2n);
  });

  test("a check with min_sequence equal to a write's sequence succeeds and answers from at least that state", async () => {
    const org = `organizations/${uniqueId("org_")}`;
    await api.resources.createResource({ resource: { name: org } });
    const { sequence } = await withSequence((o) =>
      api.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: [ADA] }] } }, o),
    );
    const response = await api.access.checkAccess({
      resource: org,
      principals: [ADA],
      permissions: ["organizations.delete"],
      minSequence: sequence,
    });
    expect(response.grantedPermissions).toEqual(["organizations.delete"]);
    expect(response.sequence).toBeGreaterThanOrEqual(sequence);
  });

  test("a check without min_sequence reports the sequence it answered from, at least the last write's", async () => {
    const org = `organizations/${uniqueId("org_")}`;
    const { sequence } = await withSequence((o) => api.resources.createResource({ resource: { name: org } }, o));
    const response = await api.access.checkAccess({ resource: org, principals: [ADA], permissions: ["organizations.get"] });
    expect(response.sequence).toBeGreaterThanOrEqual(sequence);
  });

  test("a min_sequence the store has not reached is FAILED_PRECONDITION", async () => {
    const org = `organizations/${uniqueId("org_")}`;
    const { sequence } = await withSequence((o) => api.resources.createResource({ resource: { name: org } }, o));
    await expectCode(
      api.access.checkAccess({ resource: org, principals: [ADA], permissions: ["organizations.get"], minSequence: sequence + 1_000_000n }),
      Code.FailedPrecondition,
    );
  });

  test("a refused write uses up no sequence: the next write's follows the last successful one", async () => {
    const org = `organizations/${uniqueId("org_")}`;
    const { sequence } = await withSequence((o) => api.resources.createResource({ resource: { name: org } }, o));
    await expectCode(api.resources.createResource({ resource: { name: org } }), Code.AlreadyExists);
    const next = await withSequence((o) => api.resources.createResource({ resource: { name: `organizations/${uniqueId("org_")}` } }, o));
    expect(next.sequence).toBe(sequence + 1n);
  });
});
