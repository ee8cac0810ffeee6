// Validation and canonical form of a policy's bindings and audit configs (DESIGN.md, "Policies").
import { create } from "@bufbuild/protobuf";
import {
  AuditConfigSchema,
  AuditLogConfig_LogType,
  AuditLogConfigSchema,
  BindingSchema,
  type AuditConfig,
  type Binding,
  type Expr,
} from "../../gen/policy/v1/policy_pb.js";
import { Violations, quoted } from "../service-error.js";
import { canonicalMember, isGroupOrDomain } from "./members.js";
import { ConditionBudget, WRITE_BUDGET, compileCondition } from "./conditions.js";
import { isCustomRoleName } from "./custom-roles.js";
import type { ResourceType } from "../schema/schema.js";
import { withArticle } from "../article.js";

export const MAX_MEMBERS = 1500;
export const MAX_GROUPS_AND_DOMAINS = 250;
export const MAX_CONDITION_TITLE = 100;
export const MAX_CONDITION_DESCRIPTION = 256;
export const ACCEPTED_VERSIONS: readonly number[] = [0, 1, 3];

export function hasCondition(binding: Binding): boolean {
  return binding.condition !== undefined;
}

/** Custom roles a binding may name, by name, with the types each can be granted on. */
export type GrantableCustomRoles = ReadonlyMap<string, readonly string[]>;

/**
 * The canonical bindings of `bindings` for a resource of `type`; problems are added to `violations`. A binding may
 * name a predefined role of the type, or one of `customRoles` (those of the resource's organization) that can be
 * granted on the type — deleted or disabled ones too: their bindings stay stored and grant nothing.
 */
export function canonicalBindings(
  bindings: readonly Binding[],
  type: ResourceType,
  version: number,
  violations: Violations,
  field: string,
  customRoles: GrantableCustomRoles = new Map(),
  conditionBudget = writeConditionBudget(),
): Binding[] {
  const merged = new Map<string, { role: string; condition?: Expr; members: Set<string> }>();
  bindings.forEach((binding, i) => {
    const at = `${field}[${i}]`;
    if (binding.role === "") violations.add(`${at}.role`, "is required");
    else if (isCustomRoleName(binding.role)) {
      const types = customRoles.get(binding.role);
      if (!types) violations.add(`${at}.role`, `custom role "${binding.role}" is not defined on this resource's organization`);
      else if (!types.includes(type.name)) {
        violations.add(`${at}.role`, `custom role "${binding.role}" cannot be granted on ${withArticle(type.name)}: its permissions are not all grantable there`);
      }
    } else if (!type.roles.has(binding.role)) {
      const grantable = [...type.roles.keys()].join(", ");
      violations.add(`${at}.role`, `role ${quoted(binding.role)} cannot be granted on ${withArticle(type.name)}; grantable: ${grantable}`);
    }
    if (binding.members.length === 0) violations.add(`${at}.members`, "a binding needs at least one member");
    const members = new Set<string>();
    binding.members.forEach((member, j) => {
      const result = canonicalMember(member);
      if ("error" in result) violations.add(`${at}.members[${j}]`, result.error);
      else members.add(result.member);
    });
    if (binding.condition) {
      checkCondition(binding.condition, violations, `${at}.condition`, conditionBudget);
      if (version !== 3) {
        violations.add(`${at}.condition`, `a binding with a condition requires policy version 3 (got ${version})`);
      }
    }
    const condition = binding.condition && canonicalExpr(binding.condition);
    const key = bindingKey(binding.role, condition);
    const entry = merged.get(key);
    if (entry) for (const m of members) entry.members.add(m);
    else merged.set(key, { role: binding.role, condition, members });
  });

  const result = [...merged.values()]
    .map((b) => create(BindingSchema, { role: b.role, members: [...b.members].sort(), condition: b.condition }))
    .sort(compareBindings);
  const appearances = result.flatMap((b) => b.members);
  if (appearances.length > MAX_MEMBERS) {
    violations.add(field, `${appearances.length} members in the policy; at most ${MAX_MEMBERS} (each appearance counts)`);
  }
  const groups = appearances.filter(isGroupOrDomain).length;
  if (groups > MAX_GROUPS_AND_DOMAINS) {
    violations.add(field, `${groups} groups and domains in the policy; at most ${MAX_GROUPS_AND_DOMAINS}`);
  }
  return result;
}

/** What compiling the conditions of one write may cost together (a shared policy's bindings and deny rules share it). */
export function writeConditionBudget(): ConditionBudget {
  return new ConditionBudget(WRITE_BUDGET);
}

/** A condition of a write: it compiles, within what the write's conditions may cost together (`budget`). */
export function checkCondition(condition: Expr, violations: Violations, field: string, budget: ConditionBudget): void {
  const compiled = compileCondition(condition.expression, budget);
  if (typeof compiled === "string") violations.add(`${field}.expression`, compiled);
  if (condition.title.length > MAX_CONDITION_TITLE) {
    violations.add(`${field}.title`, `longer than ${MAX_CONDITION_TITLE} characters`);
  }
  if (condition.description.length > MAX_CONDITION_DESCRIPTION) {
    violations.add(`${field}.description`, `longer than ${MAX_CONDITION_DESCRIPTION} characters`);
  }
}

export function canonicalExpr(e: Expr): Expr {
  return { ...e, expression: e.expression.trim() };
}

/** Bindings with the same key are one binding: same role and same condition. */
export function bindingKey(role: string, condition: Expr | undefined): string {
  if (!condition) return role;
  return [role, condition.expression, condition.title, condition.description, condition.location].join("\u0000");
}

function compareBindings(a: Binding, b: Binding): number {
  return compareStrings(bindingKey(a.role, a.condition), bindingKey(b.role, b.condition));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical audit configs: one per service, one log config per type, exemptions merged and sorted. */
export function canonicalAuditConfigs(
  configs: readonly AuditConfig[],
  violations: Violations,
  field: string,
): AuditConfig[] {
  const byService = new Map<string, Map<AuditLogConfig_LogType, Set<string>>>();
  configs.forEach((config, i) => {
    const at = `${field}[${i}]`;
    if (config.service === "") violations.add(`${at}.service`, 'is required (a service name or "allServices")');
    const logTypes = byService.get(config.service) ?? new Map<AuditLogConfig_LogType, Set<string>>();
    byService.set(config.service, logTypes);
    config.auditLogConfigs.forEach((log, j) => {
      if (log.logType === AuditLogConfig_LogType.UNSPECIFIED || !(log.logType in AuditLogConfig_LogType)) {
        violations.add(`${at}.audit_log_configs[${j}].log_type`, "must be ADMIN_READ, DATA_WRITE or DATA_READ");
      }
      const exempted = logTypes.get(log.logType) ?? new Set<string>();
      logTypes.set(log.logType, exempted);
      log.exemptedMembers.forEach((member, k) => {
        const result = canonicalMember(member);
        if ("error" in result) violations.add(`${at}.audit_log_configs[${j}].exempted_members[${k}]`, result.error);
        else exempted.add(result.member);
      });
    });
  });
  return [...byService.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([service, logTypes]) =>
      create(AuditConfigSchema, {
        service,
        auditLogConfigs: [...logTypes.entries()]
          .sort(([a], [b]) => a - b)
          .map(([logType, exempted]) =>
            create(AuditLogConfigSchema, { logType, exemptedMembers: [...exempted].sort() }),
          ),
      }),
    );
}
