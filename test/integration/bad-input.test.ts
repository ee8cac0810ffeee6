// Bad input never changes stored data: each rejected write fails with its code, and the stored policy (bytes and
// etag) reads back exactly as before. Every bad request also carries a valid change, so a partial write would show.
import { toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, test } from "vitest";
import { AuditLogConfig_LogType, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import type { SetPolicyRequestSchema } from "../../gen/policy/v1/policy_service_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { binding, expectCode, fieldViolations } from "./support.js";

type SetPolicyRequest = MessageInitShape<typeof SetPolicyRequestSchema>;
type Binding = ReturnType<typeof binding> & { condition?: { expression: string } };

const ORG = "organizations/acme";
const CONDITION = { expression: 'resource.type == "project"', title: "projects only" };
const STORED_BINDINGS: Binding[] = [
  binding("roles/owner", "user:ada@example.com"),
  { ...binding("roles/collaborator", "user:bob@example.com"), condition: CONDITION },
];
/** The stored bindings plus a new member: a valid change that must not be applied when the request is refused. */
const CHANGED_BINDINGS: Binding[] = [binding("roles/owner", "user:ada@example.com", "user:new@example.com"), STORED_BINDINGS[1]!];

let server: TestServer;
let staleEtag: Uint8Array;

beforeAll(async () => {
  server = await startTestServer();
  await server.grpc.resources.createResource({ resource: { name: ORG } });
  staleEtag = (await server.grpc.policies.getPolicy({ resource: ORG })).etag;
  await server.grpc.policies.setPolicy({
    resource: ORG,
    policy: {
      version: 3,
      bindings: STORED_BINDINGS,
      auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: AuditLogConfig_LogType.ADMIN_READ }] }],
    },
    updateMask: { paths: ["bindings", "audit_configs"] },
  });
});
afterAll(() => server?.stop());

/** The stored policy as bytes (etag and update time included). */
async function storedBytes(): Promise<string> {
  const policy = await server.grpc.policies.getPolicy({ resource: ORG, options: { requestedPolicyVersion: 3 } });
  return Buffer.from(toBinary(PolicySchema, policy)).toString("base64");
}

async function currentEtag(): Promise<Uint8Array> {
  return (await server.grpc.policies.getPolicy({ resource: ORG, options: { requestedPolicyVersion: 3 } })).etag;
}

function users(count: number, prefix = "user"): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}:u${i}@example.com`);
}

interface BadWrite {
  /** The SetPolicy request, given the policy's current etag. */
  request(etag: Uint8Array): SetPolicyRequest;
  code: Code;
  /** For INVALID_ARGUMENT: the field the google.rpc.BadRequest detail names. */
  field?: string;
}

/** A version-3 write with the current etag of the changed bindings plus `extra`. */
function withBinding(extra: Binding, version = 3) {
  return (etag: Uint8Array): SetPolicyRequest => ({
    resource: ORG,
    policy: { version, etag, bindings: [...CHANGED_BINDINGS, extra] },
  });
}

const BAD_WRITES: Record<string, BadWrite> = {
  "a member without a kind": {
    request: withBinding(binding("roles/owner", "ada@example.com")),
    code: Code.InvalidArgument,
    field: "policy.bindings[2].members[0]",
  },
  "a user member that is not an email": {
    request: withBinding(binding("roles/owner", "user:ada")),
    code: Code.InvalidArgument,
    field: "policy.bindings[2].members[0]",
  },
  "a binding without members": {
    request: withBinding(binding("roles/owner")),
    code: Code.InvalidArgument,
    field: "policy.bindings[2].members",
  },
  "a role not grantable on the resource's type": {
    request: withBinding(binding("roles/readonly", "user:cy@example.com")),
    code: Code.InvalidArgument,
    field: "policy.bindings[2].role",
  },
  "an unknown role": {
    request: withBinding(binding("roles/superuser", "user:cy@example.com")),
    code: Code.InvalidArgument,
    field: "policy.bindings[2].role",
  },
  "version 2": {
    request: (etag) => ({ resource: ORG, policy: { version: 2, etag, bindings: CHANGED_BINDINGS } }),
    code: Code.InvalidArgument,
    field: "policy.version",
  },
  "a condition without version 3": {
    request: (etag) => ({ resource: ORG, policy: { version: 1, etag, bindings: CHANGED_BINDINGS } }),
    code: Code.InvalidArgument,
    field: "policy.bindings[1].condition",
  },
  "a CEL syntax error": {
    request: withBinding({ ...binding("roles/owner", "user:cy@example.com"), condition: { expression: "request.time <" } }),
    code: Code.InvalidArgument,
    field: "policy.bindings[2].condition.expression",
  },
  "a CEL expression reading an unknown field": {
    request: withBinding({ ...binding("roles/owner", "user:cy@example.com"), condition: { expression: 'resource.nmae == "x"' } }),
    code: Code.InvalidArgument,
    field: "policy.bindings[2].condition.expression",
  },
  "a CEL expression that is not a bool": {
    request: withBinding({ ...binding("roles/owner", "user:cy@example.com"), condition: { expression: "resource.name" } }),
    code: Code.InvalidArgument,
    field: "policy.bindings[2].condition.expression",
  },
  "1,501 members": {
    request: withBinding(binding("roles/collaborator", ...users(1501 - 3))),
    code: Code.InvalidArgument,
    field: "policy.bindings",
  },
  "251 groups": {
    request: withBinding(binding("roles/collaborator", ...users(251, "group"))),
    code: Code.InvalidArgument,
    field: "policy.bindings",
  },
  "an unknown update_mask path": {
    request: (etag) => ({ resource: ORG, policy: { version: 3, etag, bindings: CHANGED_BINDINGS }, updateMask: { paths: ["members"] } }),
    code: Code.InvalidArgument,
    field: "update_mask.paths[0]",
  },
  "an audit config without a log type": {
    request: (etag) => ({
      resource: ORG,
      policy: { version: 3, etag, bindings: CHANGED_BINDINGS, auditConfigs: [{ service: "allServices", auditLogConfigs: [{}] }] },
      updateMask: { paths: ["bindings", "etag", "audit_configs"] },
    }),
    code: Code.InvalidArgument,
    field: "policy.audit_configs[0].audit_log_configs[0].log_type",
  },
  "a stale etag": {
    request: () => ({ resource: ORG, policy: { version: 3, etag: staleEtag, bindings: CHANGED_BINDINGS } }),
    code: Code.Aborted,
  },
  "an etag-less write that drops the stored conditions": {
    request: () => ({ resource: ORG, policy: { bindings: [CHANGED_BINDINGS[0]!] } }),
    code: Code.FailedPrecondition,
  },
};

test.each(Object.entries(BAD_WRITES))("SetPolicy with %s is refused and changes nothing", async (_, bad) => {
  const before = await storedBytes();
  const error = await expectCode(server.grpc.policies.setPolicy(bad.request(await currentEtag())), bad.code);
  if (bad.field) expect(fieldViolations(error).map((v) => v.field)).toContain(bad.field);
  expect(await storedBytes()).toBe(before);
});

test("DeletePolicy with a stale etag is refused and changes nothing", async () => {
  const before = await storedBytes();
  await expectCode(server.grpc.policies.deletePolicy({ resource: ORG, etag: staleEtag }), Code.Aborted);
  expect(await storedBytes()).toBe(before);
});

test("the same requests over Connect JSON are refused alike and change nothing", async () => {
  const before = await storedBytes();
  for (const bad of Object.values(BAD_WRITES)) {
    await expectCode(server.connect.policies.setPolicy(bad.request(await currentEtag())), bad.code);
  }
  expect(await storedBytes()).toBe(before);
});

test("the valid change itself is accepted (the refusals above were for the bad part)", async () => {
  const set = await server.grpc.policies.setPolicy({
    resource: ORG,
    policy: { version: 3, etag: await currentEtag(), bindings: CHANGED_BINDINGS },
  });
  expect(set.bindings.find((b) => b.role === "roles/owner")?.members).toContain("user:new@example.com");
});
