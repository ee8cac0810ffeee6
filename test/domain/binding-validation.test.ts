import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, test } from "vitest";
import {
  AuditConfigSchema,
  AuditLogConfig_LogType,
  AuditLogConfigSchema,
  ExprSchema,
  PolicySchema,
  BindingSchema,
  type Binding,
} from "../../gen/policy/v1/policy_pb.js";
import { Violations, type FieldViolation } from "../../src/service-error.js";
import {
  MAX_GROUPS_AND_DOMAINS,
  MAX_MEMBERS,
  canonicalAuditConfigs,
  canonicalBindings,
} from "../../src/domain/binding-validation.js";
import type { ResourceType } from "../../src/schema/schema.js";
import { BEFORE_2027, binding, cloud, organization, project } from "../helpers/fixtures.js";

interface Outcome {
  bindings: Binding[];
  violations: FieldViolation[];
}

function canonical(bindings: Binding[], type: ResourceType = project, version = 3): Outcome {
  const violations = new Violations();
  const result = canonicalBindings(bindings, type, version, violations, "policy.bindings");
  return { bindings: result, violations: violations.list };
}

function valid(bindings: Binding[], type: ResourceType = project, version = 3): Binding[] {
  const outcome = canonical(bindings, type, version);
  expect(outcome.violations).toEqual([]);
  return outcome.bindings;
}

function policyBytes(bindings: Binding[]): Uint8Array {
  return toBinary(PolicySchema, create(PolicySchema, { version: 3, bindings: valid(bindings) }));
}

function users(count: number, prefix = "u"): string[] {
  return Array.from({ length: count }, (_, i) => `user:${prefix}${i}@example.com`);
}

function groups(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `group:ug_${i}`);
}

function plain(b: Binding) {
  return { role: b.role, members: b.members, expression: b.condition?.expression };
}

describe("merging and canonical order", () => {
  test("bindings with the same role and no condition merge into one", () => {
    const result = valid([
      binding("roles/readonly", ["user:bob@example.com"]),
      binding("roles/readonly", ["user:ada@example.com"]),
    ]);
    expect(result.map(plain)).toEqual([
      { role: "roles/readonly", members: ["user:ada@example.com", "user:bob@example.com"], expression: undefined },
    ]);
  });

  test("bindings with the same role and the same condition merge into one", () => {
    const result = valid([
      binding("roles/readonly", ["user:bob@example.com"], BEFORE_2027),
      binding("roles/readonly", ["user:ada@example.com"], BEFORE_2027),
    ]);
    expect(result).toHaveLength(1);
    expect(result[0].members).toEqual(["user:ada@example.com", "user:bob@example.com"]);
    expect(result[0].condition?.expression).toBe(BEFORE_2027);
  });

  test("the same role with and without a condition stays two bindings, the unconditional one first", () => {
    const result = valid([
      binding("roles/readonly", ["user:bob@example.com"], BEFORE_2027),
      binding("roles/readonly", ["user:ada@example.com"]),
    ]);
    expect(result.map(plain)).toEqual([
      { role: "roles/readonly", members: ["user:ada@example.com"], expression: undefined },
      { role: "roles/readonly", members: ["user:bob@example.com"], expression: BEFORE_2027 },
    ]);
  });

  test("the same role under different conditions stays separate bindings", () => {
    const result = valid([
      binding("roles/readonly", ["user:ada@example.com"], BEFORE_2027),
      binding("roles/readonly", ["user:ada@example.com"], 'resource.type == "project"'),
    ]);
    expect(result).toHaveLength(2);
  });

  test("conditions differing only in their title are different conditions", () => {
    const result = valid([
      binding("roles/readonly", ["user:ada@example.com"], BEFORE_2027, "Until 2027"),
      binding("roles/readonly", ["user:ada@example.com"], BEFORE_2027, "Expires"),
    ]);
    expect(result).toHaveLength(2);
  });

  test("conditions differing only in surrounding whitespace merge", () => {
    const result = valid([
      binding("roles/readonly", ["user:ada@example.com"], `  ${BEFORE_2027}\n`),
      binding("roles/readonly", ["user:bob@example.com"], BEFORE_2027),
    ]);
    expect(result).toHaveLength(1);
    expect(result[0].condition?.expression).toBe(BEFORE_2027);
  });

  test("members are de-duplicated and sorted", () => {
    const result = valid([
      binding("roles/owner", ["user:carol@example.com", "user:ada@example.com", "user:carol@example.com"]),
    ]);
    expect(result[0].members).toEqual(["user:ada@example.com", "user:carol@example.com"]);
  });

  test("members differing only in case are one member, in lower case", () => {
    const result = valid([binding("roles/owner", ["user:Ada@Example.com", "user:ada@example.com"])]);
    expect(result[0].members).toEqual(["user:ada@example.com"]);
  });

  test("bindings are sorted by role", () => {
    const result = valid([
      binding("roles/readonly", ["user:ada@example.com"]),
      binding("roles/owner", ["user:ada@example.com"]),
      binding("roles/collaborator", ["user:ada@example.com"]),
    ]);
    expect(result.map((b) => b.role)).toEqual(["roles/collaborator", "roles/owner", "roles/readonly"]);
  });

  test("the same policy written in any order yields identical bytes", () => {
    const a = [
      binding("roles/owner", ["user:ada@example.com", "group:ug_abc123"]),
      binding("roles/readonly", ["domain:example.com"], BEFORE_2027),
      binding("roles/readonly", ["allAuthenticatedUsers"]),
      binding("roles/collaborator", ["serviceAccount:ci@example.com"]),
    ];
    const b = [
      binding("roles/collaborator", ["serviceAccount:CI@example.com"]),
      binding("roles/readonly", ["allAuthenticatedUsers", "allAuthenticatedUsers"]),
      binding("roles/owner", ["group:ug_abc123"]),
      binding("roles/readonly", ["domain:Example.com"], BEFORE_2027),
      binding("roles/owner", ["user:ada@example.com"]),
    ];
    expect(policyBytes(b)).toEqual(policyBytes(a));
  });

  test("canonical output is stable: canonicalising it again changes nothing", () => {
    const once = valid([
      binding("roles/readonly", ["user:bob@example.com", "user:ada@example.com"], BEFORE_2027),
      binding("roles/owner", ["group:ug_abc123"]),
    ]);
    expect(policyBytes(once)).toEqual(policyBytes(valid(once)));
  });
});

describe("roles and members", () => {
  test("a role not grantable on the type is refused, listing the roles that are", () => {
    const { violations } = canonical([binding("roles/owner", ["user:ada@example.com"])], cloud);
    expect(violations).toEqual([
      {
        field: "policy.bindings[0].role",
        description: expect.stringContaining("roles/collaborator, roles/readonly"),
      },
    ]);
    expect(violations[0].description).toContain('"roles/owner"');
    expect(violations[0].description).toContain("cloud");
  });

  test("a role grantable on another type only is refused on this one", () => {
    const { violations } = canonical([binding("roles/readonly", ["user:ada@example.com"])], organization);
    expect(violations.map((v) => v.field)).toEqual(["policy.bindings[0].role"]);
  });

  test("a role from the schema is accepted on its type", () => {
    expect(valid([binding("roles/readonly", ["user:ada@example.com"])], cloud)).toHaveLength(1);
  });

  test("a binding without a role is refused", () => {
    const { violations } = canonical([binding("", ["user:ada@example.com"])]);
    expect(violations).toEqual([{ field: "policy.bindings[0].role", description: "is required" }]);
  });

  test("a binding without members is refused", () => {
    const { violations } = canonical([
      binding("roles/owner", ["user:ada@example.com"]),
      binding("roles/readonly", []),
    ]);
    expect(violations).toEqual([
      { field: "policy.bindings[1].members", description: expect.stringContaining("at least one member") },
    ]);
  });

  test("a bad member is reported at its index, naming it", () => {
    const { violations } = canonical([binding("roles/owner", ["user:ada@example.com", "ada@example.com"])]);
    expect(violations).toEqual([
      { field: "policy.bindings[0].members[1]", description: expect.stringContaining('"ada@example.com"') },
    ]);
  });

  test("every problem of the request is reported at once", () => {
    const { violations } = canonical([
      binding("roles/nope", ["user:ada@example.com"]),
      binding("roles/owner", ["bob"]),
      binding("roles/readonly", []),
    ]);
    expect(violations.map((v) => v.field)).toEqual([
      "policy.bindings[0].role",
      "policy.bindings[1].members[0]",
      "policy.bindings[2].members",
    ]);
  });
});

describe("conditions in bindings", () => {
  test("a condition requires policy version 3", () => {
    for (const version of [0, 1]) {
      const { violations } = canonical([binding("roles/owner", ["user:ada@example.com"], BEFORE_2027)], project, version);
      expect(violations).toEqual([
        { field: "policy.bindings[0].condition", description: expect.stringContaining("requires policy version 3") },
      ]);
    }
  });

  test("a condition with version 3 is accepted", () => {
    expect(valid([binding("roles/owner", ["user:ada@example.com"], BEFORE_2027)], project, 3)).toHaveLength(1);
  });

  test("an invalid condition expression is reported on the binding's expression", () => {
    const { violations } = canonical([binding("roles/owner", ["user:ada@example.com"], "request.time <")]);
    expect(violations).toEqual([
      { field: "policy.bindings[0].condition.expression", description: expect.stringContaining("syntax error") },
    ]);
  });

  test("a condition title of 100 characters is accepted, 101 refused", () => {
    expect(valid([binding("roles/owner", ["user:ada@example.com"], BEFORE_2027, "t".repeat(100))])).toHaveLength(1);
    const { violations } = canonical([binding("roles/owner", ["user:ada@example.com"], BEFORE_2027, "t".repeat(101))]);
    expect(violations).toEqual([
      { field: "policy.bindings[0].condition.title", description: "longer than 100 characters" },
    ]);
  });

  test("a condition description of 256 characters is accepted, 257 refused", () => {
    const withDescription = (length: number) =>
      create(BindingSchema, {
        role: "roles/owner",
        members: ["user:ada@example.com"],
        condition: create(ExprSchema, { expression: BEFORE_2027, description: "d".repeat(length) }),
      });
    expect(valid([withDescription(256)])).toHaveLength(1);
    const { violations } = canonical([withDescription(257)]);
    expect(violations).toEqual([
      { field: "policy.bindings[0].condition.description", description: "longer than 256 characters" },
    ]);
  });
});

describe("IAM's limits", () => {
  test("exactly 1,500 members in one binding is accepted", () => {
    expect(valid([binding("roles/readonly", users(MAX_MEMBERS))])[0].members).toHaveLength(1500);
  });

  test("1,501 members is refused", () => {
    const { violations } = canonical([binding("roles/readonly", users(MAX_MEMBERS + 1))]);
    expect(violations).toEqual([{ field: "policy.bindings", description: expect.stringContaining("1501 members") }]);
  });

  test("every appearance counts: one member in two bindings counts twice", () => {
    const everyone = users(750);
    expect(valid([binding("roles/readonly", everyone), binding("roles/collaborator", everyone)])).toHaveLength(2);
    const { violations } = canonical([
      binding("roles/readonly", everyone),
      binding("roles/collaborator", [...everyone, "user:one-more@example.com"]),
    ]);
    expect(violations).toEqual([{ field: "policy.bindings", description: expect.stringContaining("1501 members") }]);
  });

  test("duplicates within one binding count once", () => {
    const twice = [...users(MAX_MEMBERS), ...users(MAX_MEMBERS)];
    expect(valid([binding("roles/readonly", twice)])[0].members).toHaveLength(1500);
  });

  test("exactly 250 groups and domains is accepted", () => {
    const members = [...groups(200), ...Array.from({ length: 50 }, (_, i) => `domain:d${i}.example.com`)];
    expect(valid([binding("roles/readonly", members)])[0].members).toHaveLength(MAX_GROUPS_AND_DOMAINS);
  });

  test("251 groups and domains is refused", () => {
    const members = [...groups(200), ...Array.from({ length: 51 }, (_, i) => `domain:d${i}.example.com`)];
    const { violations } = canonical([binding("roles/readonly", members)]);
    expect(violations).toEqual([
      { field: "policy.bindings", description: expect.stringContaining("251 groups and domains") },
    ]);
  });

  test("a group in two bindings counts twice against the group limit", () => {
    const { violations } = canonical([
      binding("roles/readonly", groups(125)),
      binding("roles/collaborator", groups(126)),
    ]);
    expect(violations).toEqual([
      { field: "policy.bindings", description: expect.stringContaining("251 groups and domains") },
    ]);
  });

  test("users do not count against the group limit", () => {
    expect(valid([binding("roles/readonly", [...groups(250), ...users(1000)])])[0].members).toHaveLength(1250);
  });
});

describe("canonicalAuditConfigs", () => {
  function audit(service: string, ...logs: [AuditLogConfig_LogType, string[]][]) {
    return create(AuditConfigSchema, {
      service,
      auditLogConfigs: logs.map(([logType, exemptedMembers]) =>
        create(AuditLogConfigSchema, { logType, exemptedMembers }),
      ),
    });
  }

  test("configs of one service merge; log types and exemptions are sorted and de-duplicated", () => {
    const violations = new Violations();
    const result = canonicalAuditConfigs(
      [
        audit("storage", [AuditLogConfig_LogType.DATA_READ, ["user:bob@example.com"]]),
        audit("allServices", [AuditLogConfig_LogType.ADMIN_READ, []]),
        audit("storage", [AuditLogConfig_LogType.DATA_READ, ["user:Ada@example.com", "user:bob@example.com"]]),
        audit("storage", [AuditLogConfig_LogType.ADMIN_READ, []]),
      ],
      violations,
      "policy.audit_configs",
    );
    expect(violations.list).toEqual([]);
    expect(
      result.map((c) => [c.service, c.auditLogConfigs.map((l) => [l.logType, l.exemptedMembers])]),
    ).toEqual([
      ["allServices", [[AuditLogConfig_LogType.ADMIN_READ, []]]],
      [
        "storage",
        [
          [AuditLogConfig_LogType.ADMIN_READ, []],
          [AuditLogConfig_LogType.DATA_READ, ["user:ada@example.com", "user:bob@example.com"]],
        ],
      ],
    ]);
  });

  test("a missing service, an unspecified log type and a bad exempted member are refused", () => {
    const violations = new Violations();
    canonicalAuditConfigs(
      [audit("", [AuditLogConfig_LogType.UNSPECIFIED, ["nobody"]])],
      violations,
      "policy.audit_configs",
    );
    expect(violations.list.map((v) => v.field)).toEqual([
      "policy.audit_configs[0].service",
      "policy.audit_configs[0].audit_log_configs[0].log_type",
      "policy.audit_configs[0].audit_log_configs[0].exempted_members[0]",
    ]);
  });
});
