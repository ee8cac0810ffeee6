import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema, type FieldMask } from "@bufbuild/protobuf/wkt";
import { describe, expect, test } from "vitest";
import {
  AuditConfigSchema,
  AuditLogConfig_LogType,
  AuditLogConfigSchema,
  type AuditConfig,
  type Policy,
} from "../../gen/policy/v1/policy_pb.js";
import { Policies } from "../../src/domain/policies.js";
import { planPolicyWrite } from "../../src/domain/policy-write.js";
import { BEFORE_2027, binding, defaultSchema, policy, project, serviceError } from "../helpers/fixtures.js";

const STORED_ETAG = new Uint8Array([1, 2, 3, 4]);
const OTHER_ETAG = new Uint8Array([9, 9, 9, 9]);

const ada = binding("roles/owner", ["user:ada@example.com"]);
const bobUntil2027 = binding("roles/readonly", ["user:bob@example.com"], BEFORE_2027);

function mask(...paths: string[]): FieldMask {
  return create(FieldMaskSchema, { paths });
}

function auditConfig(service: string): AuditConfig {
  return create(AuditConfigSchema, {
    service,
    auditLogConfigs: [create(AuditLogConfigSchema, { logType: AuditLogConfig_LogType.DATA_WRITE })],
  });
}

function stored(init: Partial<Pick<Policy, "version" | "bindings" | "auditConfigs">> = {}): Policy {
  return { ...policy({ etag: STORED_ETAG }), ...init };
}

const empty = stored();

describe("update_mask", () => {
  test("an unknown path is INVALID_ARGUMENT at its index, naming the paths allowed", () => {
    const error = serviceError(() => planPolicyWrite(project, policy({ bindings: [ada] }), mask("bindings", "owners"), stored()), "invalid_argument");
    expect(error.violations).toEqual([
      expect.objectContaining({ field: "update_mask.paths[1]", description: 'unknown path "owners"; allowed: bindings, etag, audit_configs, version, iam_owned' }),
    ]);
  });

  test("an invalid audit config is reported at its field under policy.audit_configs", () => {
    const requested = policy();
    requested.auditConfigs = [auditConfig("")];
    const error = serviceError(() => planPolicyWrite(project, requested, mask("audit_configs"), stored()), "invalid_argument");
    expect(error.violations.map((v) => v.field)).toEqual(["policy.audit_configs[0].service"]);
  });

  test("iam_owned is written only when the mask names it", () => {
    const requested = policy({ bindings: [ada] });
    requested.iamOwned = true;
    expect(planPolicyWrite(project, requested, mask("bindings", "iam_owned"), stored()).policy.iamOwned).toBe(true);
    // Not named: the stored value (unset) is kept.
    expect(planPolicyWrite(project, requested, mask("bindings"), stored()).policy.iamOwned).toBeUndefined();
  });

  test("without a mask, bindings are replaced and the stored audit configs kept", () => {
    const current = stored({ bindings: [ada], auditConfigs: [auditConfig("storage")] });
    const requested = policy({ bindings: [binding("roles/readonly", ["user:bob@example.com"])] });
    requested.auditConfigs = [auditConfig("compute")];
    const { policy: next } = planPolicyWrite(project, requested, undefined, current);
    expect(next.bindings.map((b) => b.role)).toEqual(["roles/readonly"]);
    expect(next.auditConfigs.map((c) => c.service)).toEqual(["storage"]);
  });

  test("an empty mask is the default mask", () => {
    const current = stored({ auditConfigs: [auditConfig("storage")] });
    const requested = policy({ bindings: [ada] });
    const { policy: next } = planPolicyWrite(project, requested, mask(), current);
    expect(next.auditConfigs.map((c) => c.service)).toEqual(["storage"]);
    expect(next.bindings).toHaveLength(1);
  });

  test("audit_configs in the mask replaces the audit configs", () => {
    const current = stored({ auditConfigs: [auditConfig("storage")] });
    const requested = policy();
    requested.auditConfigs = [auditConfig("compute")];
    const { policy: next } = planPolicyWrite(project, requested, mask("audit_configs"), current);
    expect(next.auditConfigs.map((c) => c.service)).toEqual(["compute"]);
  });

  test("a mask without bindings keeps the stored bindings", () => {
    const current = stored({ bindings: [ada] });
    const { policy: next } = planPolicyWrite(project, policy(), mask("audit_configs"), current);
    expect(next.bindings).toEqual([ada]);
  });

  test("an unknown mask path is refused, naming the path", () => {
    const error = serviceError(
      () => planPolicyWrite(project, policy({ bindings: [ada] }), mask("bindings", "members"), empty),
      "invalid_argument",
    );
    expect(error.violations).toEqual([
      { field: "update_mask.paths[1]", description: expect.stringContaining('"members"') },
    ]);
  });

  test("the camelCase JSON name of a path is not a mask path", () => {
    serviceError(() => planPolicyWrite(project, policy(), mask("auditConfigs"), empty), "invalid_argument");
  });
});

describe("request validation", () => {
  test("a missing policy is refused", () => {
    const error = serviceError(() => planPolicyWrite(project, undefined, undefined, empty), "invalid_argument");
    expect(error.violations).toEqual([{ field: "policy", description: "is required" }]);
  });

  test.each([0, 1, 3])("version %i is accepted", (version) => {
    expect(() => planPolicyWrite(project, policy({ version, bindings: [ada] }), undefined, empty)).not.toThrow();
  });

  test.each([2, 4, -1])("version %i is refused", (version) => {
    const error = serviceError(
      () => planPolicyWrite(project, policy({ version, bindings: [ada] }), undefined, empty),
      "invalid_argument",
    );
    expect(error.violations).toEqual([{ field: "policy.version", description: `must be 0, 1 or 3 (got ${version})` }]);
  });

  test("binding problems are reported under policy.bindings", () => {
    const error = serviceError(
      () => planPolicyWrite(project, policy({ bindings: [binding("roles/admin", ["user:ada@example.com"])] }), undefined, empty),
      "invalid_argument",
    );
    expect(error.violations.map((v) => v.field)).toEqual(["policy.bindings[0].role"]);
  });

  test("the written policy is canonical", () => {
    const requested = policy({
      bindings: [binding("roles/readonly", ["user:Bob@example.com"]), binding("roles/owner", ["user:ada@example.com"])],
    });
    const { policy: next } = planPolicyWrite(project, requested, undefined, empty);
    expect(next.bindings.map((b) => [b.role, b.members])).toEqual([
      ["roles/owner", ["user:ada@example.com"]],
      ["roles/readonly", ["user:bob@example.com"]],
    ]);
  });
});

describe("etag", () => {
  test("a stale etag is ABORTED and tells the caller to read again", () => {
    const requested = policy({ bindings: [ada], etag: OTHER_ETAG });
    const error = serviceError(() => planPolicyWrite(project, requested, undefined, empty), "aborted");
    expect(error.message).toMatch(/read it again/);
    expect(error.message).toMatch(/retry/);
    expect(error.message).toMatch(/^the policy was changed by another writer/);
  });

  test("the stored etag makes the write conditional and accepted", () => {
    const requested = policy({ bindings: [ada], etag: STORED_ETAG });
    expect(planPolicyWrite(project, requested, undefined, empty).conditional).toBe(true);
  });

  test("a stale etag is ignored when the update mask does not name etag (IAM compares it only then, or with no mask)", () => {
    const requested = policy({ bindings: [ada], etag: OTHER_ETAG });
    const plan = planPolicyWrite(project, requested, mask("bindings"), stored({ bindings: [] }));
    expect(plan.conditional).toBe(false);
    expect(plan.policy.bindings).toEqual([ada]);
    serviceError(() => planPolicyWrite(project, requested, mask("bindings", "etag"), stored({ bindings: [] })), "aborted");
  });

  test("no etag is an unconditional overwrite", () => {
    expect(planPolicyWrite(project, policy({ bindings: [ada] }), undefined, stored({ bindings: [ada] })).conditional).toBe(
      false,
    );
  });

  test("the etag of a prefix of the stored etag is stale", () => {
    const requested = policy({ bindings: [ada], etag: STORED_ETAG.slice(0, 2) });
    serviceError(() => planPolicyWrite(project, requested, undefined, empty), "aborted");
  });

  test("the written policy carries no etag (the store assigns it)", () => {
    const requested = policy({ bindings: [ada], etag: STORED_ETAG });
    expect(planPolicyWrite(project, requested, undefined, empty).policy.etag).toHaveLength(0);
  });

  test("invalid input is reported before a stale etag", () => {
    const requested = policy({ version: 2, bindings: [ada], etag: OTHER_ETAG });
    serviceError(() => planPolicyWrite(project, requested, undefined, empty), "invalid_argument");
  });
});

describe("dropping stored conditions", () => {
  const conditional = stored({ version: 3, bindings: [ada, bobUntil2027] });

  test("an etag-less write that drops a stored conditional binding is FAILED_PRECONDITION", () => {
    const requested = policy({ bindings: [ada] });
    const error = serviceError(() => planPolicyWrite(project, requested, undefined, conditional), "failed_precondition");
    expect(error.message).toContain("roles/readonly");
    expect(error.message).toContain("requested_policy_version 3");
  });

  test("a version-3 write without the etag that drops a stored conditional binding is FAILED_PRECONDITION too", () => {
    // Version 3 passes IAM's removal rule; what refuses it is the missing etag (the caller may not have seen the condition).
    const requested = policy({ version: 3, bindings: [ada] });
    const error = serviceError(() => planPolicyWrite(project, requested, undefined, conditional), "failed_precondition");
    expect(error.message).toBe(
      "this write would drop 1 conditional binding(s) of the stored version-3 policy (e.g. roles/readonly if " +
        `"${bobUntil2027.condition!.expression}"); read the policy with requested_policy_version 3 and send its etag with the write to confirm`,
    );
  });

  test("writing back a _withcond_ role from a version-1 read is refused", () => {
    const requested = policy({ bindings: [ada, binding("roles/readonly_withcond_0123456789abcdef0123", ["user:bob@example.com"])] });
    const error = serviceError(() => planPolicyWrite(project, requested, undefined, conditional), "invalid_argument");
    expect(error.violations.map((v) => v.field)).toEqual(["policy.bindings[1].role"]);
  });

  test("an etag-less write keeping the stored conditions is accepted", () => {
    const requested = policy({
      version: 3,
      bindings: [bobUntil2027, binding("roles/collaborator", ["user:carol@example.com"])],
    });
    const { policy: next } = planPolicyWrite(project, requested, undefined, conditional);
    expect(next.bindings.map((b) => b.role)).toEqual(["roles/collaborator", "roles/readonly"]);
  });

  test("an etag-less write keeping the condition but changing its members is accepted", () => {
    const requested = policy({
      version: 3,
      bindings: [binding("roles/readonly", ["user:dan@example.com"], BEFORE_2027)],
    });
    const { policy: next } = planPolicyWrite(project, requested, undefined, conditional);
    expect(next.bindings[0].members).toEqual(["user:dan@example.com"]);
  });

  test("with the current etag and version 3, dropping conditions is the caller's informed choice", () => {
    const requested = policy({ version: 3, bindings: [ada], etag: STORED_ETAG });
    const { policy: next } = planPolicyWrite(project, requested, undefined, conditional);
    expect(next.bindings).toEqual([ada]);
  });

  test.each([0, 1])("a version-%i write with the current etag that removes a binding is FAILED_PRECONDITION (IAM)", (version) => {
    const dropsCondition = policy({ version, bindings: [ada], etag: STORED_ETAG });
    const error = serviceError(() => planPolicyWrite(project, dropsCondition, undefined, conditional), "failed_precondition");
    expect(error.message).toContain("version to 3");
    // Removing an unconditional binding from a policy with conditions needs version 3 too.
    const dropsPlain = policy({ version, bindings: [], etag: STORED_ETAG });
    serviceError(() => planPolicyWrite(project, dropsPlain, undefined, conditional), "failed_precondition");
  });

  test.each([0, 1])(
    "a version-%i write that keeps a role's plain binding but removes its conditional one is FAILED_PRECONDITION",
    (version) => {
      // The same role with and without a condition: two bindings, so keeping the plain one does not keep the other.
      const bob = binding("roles/readonly", ["user:bob@example.com"]);
      const sameRole = stored({ version: 3, bindings: [bob, bobUntil2027] });
      const keepsPlain = policy({ version, bindings: [bob], etag: STORED_ETAG });
      const error = serviceError(() => planPolicyWrite(project, keepsPlain, undefined, sameRole), "failed_precondition");
      expect(error.message).toContain("version to 3");
      expect(error.message).toMatch(/^the stored policy has conditional role bindings, and this write would remove 1 binding\(s\) \(e\.g\. roles\/readonly\)/);
    },
  );

  test("a version-1 write that removes nothing from a conditional policy (audit configs only) is accepted", () => {
    const requested = policy({ version: 1, etag: STORED_ETAG });
    requested.auditConfigs = [auditConfig("storage")];
    const { policy: next } = planPolicyWrite(project, requested, mask("audit_configs", "etag"), conditional);
    expect(next.bindings).toEqual(conditional.bindings);
  });

  test("an etag-less write that changes only the audit configs keeps the conditions", () => {
    const requested = policy();
    requested.auditConfigs = [auditConfig("storage")];
    const { policy: next } = planPolicyWrite(project, requested, mask("audit_configs"), conditional);
    expect(next.bindings).toEqual(conditional.bindings);
  });
});

describe("the resulting version", () => {
  test("is 3 when conditional bindings remain", () => {
    const requested = policy({ version: 3, bindings: [ada, bobUntil2027] });
    expect(planPolicyWrite(project, requested, undefined, empty).policy.version).toBe(3);
  });

  test("is 1 for a version-3 request without conditions", () => {
    const requested = policy({ version: 3, bindings: [ada] });
    expect(planPolicyWrite(project, requested, undefined, empty).policy.version).toBe(1);
  });

  test("is 1 for a version-0 request", () => {
    const requested = policy({ version: 0, bindings: [ada] });
    expect(planPolicyWrite(project, requested, undefined, empty).policy.version).toBe(1);
  });

  test("is 3 when a mask without bindings keeps stored conditional bindings", () => {
    const current = stored({ version: 3, bindings: [bobUntil2027] });
    const { policy: next } = planPolicyWrite(project, policy(), mask("audit_configs"), current);
    expect(next.version).toBe(3);
  });

  test("is 1 once the last condition is removed with the etag", () => {
    const current = stored({ version: 3, bindings: [bobUntil2027] });
    const requested = policy({ version: 3, bindings: [ada], etag: STORED_ETAG });
    expect(planPolicyWrite(project, requested, undefined, current).policy.version).toBe(1);
  });
});

describe("conditions are compiled before the write transaction (issue 13, item 1)", () => {
  test("SetPolicy with an invalid condition is refused without opening a transaction", async () => {
    let transactions = 0;
    // Only updatePolicy is reached by set(); it is the store's write transaction.
    const store = { updatePolicy: async () => void transactions++ } as never;
    const policies = new Policies(store, defaultSchema, undefined as never);
    const requested = policy({ version: 3, bindings: [binding("roles/owner", ["user:ada@example.com"], "resource.name.matches('(')")] });
    await expect(policies.set({ resource: "projects/p1", policy: requested } as never, {} as never)).rejects.toMatchObject({
      code: "invalid_argument",
    });
    expect(transactions).toBe(0);
  });

  test("a write's conditions are compiled in turns: other calls run before its transaction (issue 25)", async () => {
    const order: string[] = [];
    const store = { updatePolicy: async () => void order.push("transaction") } as never;
    const policies = new Policies(store, defaultSchema, undefined as never);
    const conditions = Array.from({ length: 4 }, (_, i) => binding("roles/owner", ["user:ada@example.com"], `resource.name.matches('^projects/[a-z]{${i + 1}}$')`));
    setImmediate(() => order.push("another call"));
    await policies.set({ resource: "projects/p1", policy: policy({ version: 3, bindings: conditions }) } as never, {} as never).catch(() => {});
    expect(order).toEqual(["another call", "transaction"]);
  });
});
