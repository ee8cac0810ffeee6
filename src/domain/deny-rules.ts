// Deny rules: their validation and canonical form, and the permission patterns they name (`projects.delete`,
// `projects.*`, `*`).
import { create } from "@bufbuild/protobuf";
import { DenyRuleSchema, type DenyRule } from "../../gen/policy/v1/deny_policy_pb.js";
import { Violations } from "../service-error.js";
import { canonicalMember } from "./members.js";
import { canonicalExpr, checkCondition, writeConditionBudget } from "./binding-validation.js";
import type { ResourceSchema } from "../schema/schema.js";

export const MAX_DENY_RULES = 500;
/** Per rule, denied and exception principals together (IAM allows 500 per deny rule). */
export const MAX_DENY_PRINCIPALS = 500;
export const MAX_DENY_PERMISSIONS = 500;
export const MAX_DENY_DESCRIPTION = 256;

/** Which permissions a list of patterns covers; `match` returns the pattern that covers one. */
export class PermissionPatterns {
  private readonly exact: ReadonlySet<string>;
  private readonly collections: ReadonlySet<string>;
  private readonly all: boolean;

  constructor(patterns: readonly string[]) {
    this.exact = new Set(patterns.filter((p) => !p.endsWith("*")));
    this.collections = new Set(patterns.filter((p) => p.endsWith(".*")).map((p) => p.slice(0, -2)));
    this.all = patterns.includes("*");
  }

  match(permission: string): string | undefined {
    if (this.exact.has(permission)) return permission;
    if (this.collections.size > 0) {
      const collection = permission.slice(0, permission.indexOf("."));
      if (this.collections.has(collection)) return `${collection}.*`;
    }
    return this.all ? "*" : undefined;
  }
}

/** The canonical rules of a deny policy; problems are added to `violations` with field paths under `field`. */
export function canonicalDenyRules(
  rules: readonly DenyRule[],
  schema: ResourceSchema,
  violations: Violations,
  field: string,
  conditionBudget = writeConditionBudget(),
): DenyRule[] {
  if (rules.length > MAX_DENY_RULES) violations.add(field, `${rules.length} rules; at most ${MAX_DENY_RULES}`);
  const collections = new Set([...schema.permissions].map((p) => p.slice(0, p.indexOf("."))));
  return rules.map((rule, i) => {
    const at = `${field}[${i}]`;
    if (rule.description.length > MAX_DENY_DESCRIPTION) {
      violations.add(`${at}.description`, `longer than ${MAX_DENY_DESCRIPTION} characters`);
    }
    if (rule.deniedPrincipals.length === 0) violations.add(`${at}.denied_principals`, "a deny rule needs at least one denied principal");
    if (rule.deniedPermissions.length === 0) violations.add(`${at}.denied_permissions`, "a deny rule needs at least one denied permission");
    if (rule.deniedPrincipals.length + rule.exceptionPrincipals.length > MAX_DENY_PRINCIPALS) {
      violations.add(at, `at most ${MAX_DENY_PRINCIPALS} denied and exception principals per rule`);
    }
    if (rule.deniedPermissions.length + rule.exceptionPermissions.length > MAX_DENY_PERMISSIONS) {
      violations.add(at, `at most ${MAX_DENY_PERMISSIONS} denied and exception permissions per rule`);
    }
    if (rule.denialCondition) checkCondition(rule.denialCondition, violations, `${at}.denial_condition`, conditionBudget);
    return create(DenyRuleSchema, {
      description: rule.description,
      deniedPrincipals: principals(rule.deniedPrincipals, violations, `${at}.denied_principals`),
      exceptionPrincipals: principals(rule.exceptionPrincipals, violations, `${at}.exception_principals`),
      deniedPermissions: permissions(rule.deniedPermissions, schema, collections, violations, `${at}.denied_permissions`),
      exceptionPermissions: permissions(rule.exceptionPermissions, schema, collections, violations, `${at}.exception_permissions`),
      denialCondition: rule.denialCondition && canonicalExpr(rule.denialCondition),
    });
  });
}

function principals(list: readonly string[], violations: Violations, field: string): string[] {
  const result = new Set<string>();
  list.forEach((member, j) => {
    const canonical = canonicalMember(member);
    if ("error" in canonical) violations.add(`${field}[${j}]`, canonical.error);
    else result.add(canonical.member);
  });
  return [...result].sort();
}

function permissions(
  list: readonly string[],
  schema: ResourceSchema,
  collections: ReadonlySet<string>,
  violations: Violations,
  field: string,
): string[] {
  list.forEach((p, j) => {
    const known =
      p === "*" || (p.endsWith(".*") ? collections.has(p.slice(0, -2)) : schema.permissions.has(p));
    if (!known) {
      violations.add(`${field}[${j}]`, `"${p}" is not a permission the schema knows, nor {collection}.* of a known collection, nor *`);
    }
  });
  return [...new Set(list)].sort();
}
