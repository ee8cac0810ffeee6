// More of a policy's validation and canonical form (domain/binding-validation.ts): custom roles in bindings, conditions that
// differ only in how their fields split, what all of a write's conditions may cost together, the canonical order of
// many bindings, and the audit configs' messages.
import { create } from "@bufbuild/protobuf";
import { expect, test } from "vitest";
import { AuditConfigSchema, AuditLogConfig_LogType, AuditLogConfigSchema, BindingSchema, ExprSchema } from "../../gen/policy/v1/policy_pb.js";
import { canonicalAuditConfigs, canonicalBindings } from "../../src/domain/binding-validation.js";
import { Violations } from "../../src/service-error.js";
import { cloud, project } from "../helpers/fixtures.js";

const ADA = "user:ada@example.com";
const ROLE = "organizations/o/roles/deployer";

function problems(run: (violations: Violations) => unknown): string[] {
  const violations = new Violations();
  run(violations);
  return violations.list.map((v) => `${v.field}: ${v.description}`);
}

test("a custom role binds where it is defined and grantable; otherwise the binding is refused, saying why", () => {
  const grantable = new Map([[ROLE, ["project"]]]);
  const bindings = [create(BindingSchema, { role: ROLE, members: [ADA] })];
  const result = canonicalBindings(bindings, project, 1, new Violations(), "policy.bindings", grantable);
  expect(result.map((b) => b.role)).toEqual([ROLE]);
  expect(problems((v) => canonicalBindings(bindings, project, 1, v, "policy.bindings", grantable))).toEqual([]);
  expect(problems((v) => canonicalBindings(bindings, cloud, 1, v, "policy.bindings", grantable))).toEqual([
    `policy.bindings[0].role: custom role "${ROLE}" cannot be granted on a cloud: its permissions are not all grantable there`,
  ]);
  expect(problems((v) => canonicalBindings(bindings, project, 1, v, "policy.bindings", new Map()))).toEqual([
    `policy.bindings[0].role: custom role "${ROLE}" is not defined on this resource's organization`,
  ]);
});

test("conditions whose title and description split the same text differently are different conditions", () => {
  const conditional = (title: string, description: string) =>
    create(BindingSchema, { role: "roles/readonly", members: [ADA], condition: create(ExprSchema, { expression: "true", title, description }) });
  const violations = new Violations();
  const result = canonicalBindings([conditional("ab", ""), conditional("a", "b")], project, 3, violations, "policy.bindings");
  expect(violations.list).toEqual([]);
  expect(result.map((b) => [b.condition?.title, b.condition?.description])).toEqual([
    ["a", "b"],
    ["ab", ""],
  ]);
});

test("the conditions of one write are refused together once compiling them would cost more than the write's budget", () => {
  // Each distinct ~4,000-character condition costs ~160,000 units to read: a dozen are over the budget of 1,000,000.
  const bindings = Array.from({ length: 12 }, (_, i) =>
    create(BindingSchema, {
      role: "roles/readonly",
      members: [ADA],
      condition: create(ExprSchema, { expression: `request.attributes["k"] == "${String(i).padStart(3, "0")}${"a".repeat(3_950)}"` }),
    }),
  );
  const found = problems((v) => canonicalBindings(bindings, project, 3, v, "policy.bindings"));
  expect(found.length).toBeGreaterThan(0);
  for (const problem of found) expect(problem).toMatch(/^policy\.bindings\[\d+\]\.condition\.expression: the conditions of this write cost more than 1000000 units/);
  expect(problems((v) => canonicalBindings(bindings.slice(0, 2), project, 3, v, "policy.bindings"))).toEqual([]);
});

test("many bindings in any order come out in one canonical order", () => {
  const many = Array.from({ length: 80 }, (_, i) =>
    create(BindingSchema, { role: "roles/readonly", members: [ADA], condition: create(ExprSchema, { expression: "true", title: `t${String(i).padStart(2, "0")}` }) }),
  );
  const titles = (order: typeof many) => canonicalBindings(order, project, 3, new Violations(), "policy.bindings").map((b) => b.condition!.title);
  const sorted = many.map((b) => b.condition!.title);
  expect(titles([...many].reverse())).toEqual(sorted);
  // An interleaving (odd ones first, then even ones backwards): not merely reversed.
  const interleaved = [...many.filter((_, i) => i % 2 === 1), ...many.filter((_, i) => i % 2 === 0).reverse()];
  expect(titles(interleaved)).toEqual(sorted);
});

test("the audit configs' problems say what is expected", () => {
  const config = create(AuditConfigSchema, { service: "", auditLogConfigs: [create(AuditLogConfigSchema, { logType: 99 as AuditLogConfig_LogType })] });
  expect(problems((v) => canonicalAuditConfigs([config], v, "policy.audit_configs"))).toEqual([
    'policy.audit_configs[0].service: is required (a service name or "allServices")',
    "policy.audit_configs[0].audit_log_configs[0].log_type: must be ADMIN_READ, DATA_WRITE or DATA_READ",
  ]);
});
