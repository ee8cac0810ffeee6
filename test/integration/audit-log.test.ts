// ListAuditEntries as an audit reader uses it: newest first, one action, an organization's whole subtree, and each
// policy write with the policy it replaced; bad orders and actions are INVALID_ARGUMENT.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { ApiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { binding, expectCode, fieldViolations, uniqueId } from "./support.js";

let server: TestServer;
let api: ApiClients;
let org: string;
let cloud: string;
let project: string;
let otherOrg: string;

beforeAll(async () => {
  server = await startTestServer();
  api = server.connect;
  org = `organizations/${uniqueId("audit")}`;
  otherOrg = `organizations/${uniqueId("other")}`;
  cloud = `clouds/${uniqueId("audit")}`;
  project = `projects/${uniqueId("audit")}`;
  await api.resources.createResource({ resource: { name: org } });
  await api.resources.createResource({ resource: { name: otherOrg } });
  await api.resources.createResource({ resource: { name: cloud, parent: org } });
  await api.resources.createResource({ resource: { name: project, parent: cloud } });
  await api.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", "user:ada@example.com")] } });
  await api.policies.setPolicy({
    resource: project,
    policy: { bindings: [binding("roles/owner", "user:bob@example.com"), binding("roles/readonly", "user:ada@example.com")] },
  });
  await api.policies.setPolicy({ resource: otherOrg, policy: { bindings: [binding("roles/owner", "user:eve@example.com")] } });
});
afterAll(() => server?.stop());

test("newest first, page by page, is the oldest-first listing reversed", async () => {
  const oldest = await api.audit.listAuditEntries({ resource: project });
  const newest: bigint[] = [];
  let pageToken = "";
  do {
    const page = await api.audit.listAuditEntries({ resource: project, orderBy: "sequence desc", pageSize: 1, pageToken });
    newest.push(...page.entries.map((e) => e.sequence));
    pageToken = page.nextPageToken;
  } while (pageToken);
  expect(newest).toEqual(oldest.entries.map((e) => e.sequence).reverse());
  expect(oldest.entries.map((e) => e.action)).toEqual(["resource.create", "policy.set", "policy.set"]);
});

test("each policy write carries the policy it wrote and the one it replaced", async () => {
  const { entries } = await api.audit.listAuditEntries({ resource: project, action: "policy.set", orderBy: "sequence desc" });
  expect(entries).toHaveLength(2);
  const [second, first] = entries;
  const grants = (p: typeof second.policy) => p?.bindings.map((b) => [b.role, [...b.members]]);
  expect(grants(first!.policy)).toEqual([["roles/owner", ["user:ada@example.com"]]]);
  expect(first!.policyBefore).toBeUndefined();
  expect(grants(second!.policyBefore)).toEqual([["roles/owner", ["user:ada@example.com"]]]);
  expect(grants(second!.policy)).toEqual([
    ["roles/owner", ["user:bob@example.com"]],
    ["roles/readonly", ["user:ada@example.com"]],
  ]);
  expect(second!.policyBefore!.etag).toEqual(first!.etagAfter);
});

test("include_descendants lists the organization's subtree, newest first, and nothing of another organization", async () => {
  const seen: { action: string; resource: string }[] = [];
  let pageToken = "";
  do {
    const page = await api.audit.listAuditEntries({ resource: org, includeDescendants: true, orderBy: "sequence desc", pageSize: 2, pageToken });
    seen.push(...page.entries.map((e) => ({ action: e.action, resource: e.resource })));
    pageToken = page.nextPageToken;
  } while (pageToken);
  expect(seen).toEqual([
    { action: "policy.set", resource: project },
    { action: "policy.set", resource: project },
    { action: "resource.create", resource: project },
    { action: "resource.create", resource: cloud },
    { action: "resource.create", resource: org },
  ]);
});

test("an unknown order or action is INVALID_ARGUMENT naming the field", async () => {
  const order = await expectCode(api.audit.listAuditEntries({ resource: org, orderBy: "time" }), Code.InvalidArgument);
  expect(fieldViolations(order).map((v) => v.field)).toEqual(["order_by"]);
  const action = await expectCode(api.audit.listAuditEntries({ resource: org, action: "policy.sett" }), Code.InvalidArgument);
  expect(fieldViolations(action).map((v) => v.field)).toEqual(["action"]);
});
