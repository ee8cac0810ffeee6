// Access decisions over a chain: the resource and its ancestors with their policies, as the store reads them (from
// its cache when hot). A check walks from the resource up to the root, so its cost depends on the depth and the
// bindings on that path only — never on how many other bindings are stored. No I/O here.
//
// Deny rules (root precedence, AIP-2511): a deny rule that applies anywhere on the chain wins over every allow binding
// anywhere on it; a deny rule whose condition cannot be evaluated makes the outcome unknown, never a grant. Custom
// roles are resolved per check from the chain's root link, so a role change applies on the next check.
//
// Shared policies (AIP-2511) bound to a link apply exactly as if their bindings and deny rules were the link's own:
// a binding's role is read on the link's type, and explanations name the shared policy as well as the link.
import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  AccessState,
  BindingExplanationSchema,
  DenyRuleExplanationSchema,
  PermissionCheckSchema,
  type BindingExplanation,
  type DenyRuleExplanation,
  type PermissionCheck,
} from "../../../gen/policy/v1/access_service_pb.js";
import type { DenyPolicy } from "../../../gen/policy/v1/deny_policy_pb.js";
import type { DenyRule } from "../../../gen/policy/v1/deny_policy_pb.js";
import type { AuditLogConfig_LogType, Binding, Expr, Policy } from "../../../gen/policy/v1/policy_pb.js";
import type { SharedPolicy } from "../../../gen/policy/v1/shared_policy_pb.js";
import { isDeepFrozen } from "../../frozen-value.js";
import type { StoredPolicy } from "../../store/store.js";
import { CallConditions, compileCondition, type CompiledCondition, type ConditionBudget } from "../conditions.js";
import { grantingRole, isCustomRoleName, type GrantingRole } from "../custom-roles.js";
import { PermissionPatterns } from "../deny-rules.js";
import type { ResourceSchema, ResourceType } from "../../schema/schema.js";
import type { Subject } from "./subject.js";


/** The audit-config service name that applies to every service. */
export const ALL_SERVICES = "allServices";

interface CompiledBinding {
  role: string;
  /**
   * What the role grants on the type of the resource the binding is attached to; undefined for a custom role, which
   * is looked up in the chain's roles at each check (a role change must not wait for the binding's policy to change).
   */
  permissions: ReadonlySet<string> | undefined;
  /** A set only for large bindings; most have a few members, where an array is smaller and as fast. */
  members: readonly string[] | ReadonlySet<string>;
  /** The condition as written, for explanations. */
  expr: Expr | undefined;
  /** undefined: unconditional; a string: a condition that no longer compiles (never applies). */
  condition: CompiledCondition | string | undefined;
  /** The shared policy holding the binding; "" for one of the link's own policy. */
  sharedPolicy: string;
}

interface CompiledDenyRule {
  index: number;
  description: string;
  principals: readonly string[] | ReadonlySet<string>;
  exceptionPrincipals: readonly string[] | ReadonlySet<string>;
  permissions: PermissionPatterns;
  exceptionPermissions: PermissionPatterns;
  condition: CompiledCondition | string | undefined;
}

/** The rules of a deny policy that name one permission, and every principal they deny it to (a quick reject). */
interface DenyCandidates {
  rules: readonly CompiledDenyRule[];
  principals: ReadonlySet<string>;
}

/** A deny policy's compiled rules, with their candidates per permission worked out on first use. */
class CompiledDeny {
  private readonly byPermission = new Map<string, DenyCandidates>();

  constructor(
    readonly rules: readonly CompiledDenyRule[],
    /** The shared policy holding the rules; "" for the link's own deny policy. */
    readonly sharedPolicy: string,
  ) {}

  candidates(permission: string): DenyCandidates {
    let found = this.byPermission.get(permission);
    if (!found) {
      const rules = this.rules.filter((rule) => rule.permissions.match(permission) !== undefined);
      const principals = new Set(
        rules.filter((rule) => rule.exceptionPermissions.match(permission) === undefined).flatMap((rule) => [...rule.principals]),
      );
      found = { rules, principals };
      // Permissions are the schema's, a bounded set: the memo cannot grow without limit.
      this.byPermission.set(permission, found);
    }
    return found;
  }
}

/** One level of a chain as a check reads it. */
interface Link {
  name: string;
  type: string;
  /** The link's own bindings, then those of the shared policies bound to it. */
  bindings: readonly CompiledBinding[];
  /** The link's own deny rules, then those of its shared policies: only the ones that have rules. */
  denies: readonly CompiledDeny[];
}

const NONE: readonly never[] = [];
const SMALL_BINDING = 8;

/**
 * Compiled bindings by shared policy. The read cache hands out the same shared object until the policy changes, so a
 * policy's conditions are compiled once, and the compiled form goes away with the policy.
 */
const compiled = new WeakMap<Policy, readonly CompiledBinding[]>();

function compile(policy: Policy, type: ResourceType): readonly CompiledBinding[] {
  let bindings = compiled.get(policy);
  if (bindings) return bindings;
  bindings = compileBindings(policy.bindings, type, "");
  if (isDeepFrozen(policy)) compiled.set(policy, bindings);
  return bindings;
}

/** A shared policy's bindings compiled for each type it applies to, and its deny rules, by shared value. */
const compiledShared = new WeakMap<SharedPolicy, { byType: Map<string, readonly CompiledBinding[]>; deny: CompiledDeny | undefined }>();

function compileShared(shared: SharedPolicy, type: ResourceType): { bindings: readonly CompiledBinding[]; deny: CompiledDeny | undefined } {
  let entry = compiledShared.get(shared);
  if (!entry) {
    const deny = shared.denyRules.length > 0 ? compileDenyRules(shared.denyRules, shared.name) : undefined;
    entry = { byType: new Map(), deny };
    if (isDeepFrozen(shared)) compiledShared.set(shared, entry);
  }
  let bindings = entry.byType.get(type.name);
  if (!bindings) {
    bindings = compileBindings(shared.bindings, type, shared.name);
    entry.byType.set(type.name, bindings);
  }
  return { bindings, deny: entry.deny };
}

/** A link's own and shared bindings and deny rules, merged once per shared link (the cache's, until it changes). */
const compiledLinks = new WeakMap<StoredPolicy, { bindings: readonly CompiledBinding[]; denies: readonly CompiledDeny[] }>();

function compileWithShared(link: StoredPolicy, type: ResourceType): { bindings: readonly CompiledBinding[]; denies: readonly CompiledDeny[] } {
  let merged = compiledLinks.get(link);
  if (merged) return merged;
  const bindings = [...compile(link.policy, type)];
  const denies = link.deny ? [compileDeny(link.deny)] : [];
  for (const bound of link.shared ?? []) {
    const compiledBound = compileShared(bound, type);
    bindings.push(...compiledBound.bindings);
    if (compiledBound.deny) denies.push(compiledBound.deny);
  }
  merged = { bindings, denies };
  if (isDeepFrozen(link)) compiledLinks.set(link, merged);
  return merged;
}

function compileBindings(source: readonly Binding[], type: ResourceType, sharedPolicy: string): readonly CompiledBinding[] {
  const bindings = source.flatMap((binding) => {
    const role = type.roles.get(binding.role);
    if (!role && !isCustomRoleName(binding.role)) return [];
    return [
      {
        role: binding.role,
        permissions: role?.permissions,
        members: binding.members.length > SMALL_BINDING ? new Set(binding.members) : binding.members,
        expr: binding.condition,
        condition: binding.condition ? compileCondition(binding.condition.expression) : undefined,
        sharedPolicy,
      },
    ];
  });
  return bindings.length === 0 ? NONE : bindings;
}

/** Compiled deny rules by shared deny policy, as for bindings. */
const compiledDeny = new WeakMap<DenyPolicy, CompiledDeny>();

function compileDeny(deny: DenyPolicy): CompiledDeny {
  let compiledPolicy = compiledDeny.get(deny);
  if (compiledPolicy) return compiledPolicy;
  compiledPolicy = compileDenyRules(deny.rules, "");
  if (isDeepFrozen(deny)) compiledDeny.set(deny, compiledPolicy);
  return compiledPolicy;
}

function compileDenyRules(source: readonly DenyRule[], sharedPolicy: string): CompiledDeny {
  const rules = source.map((rule, index) => ({
    index,
    description: rule.description,
    principals: memberList(rule.deniedPrincipals),
    exceptionPrincipals: memberList(rule.exceptionPrincipals),
    permissions: new PermissionPatterns(rule.deniedPermissions),
    exceptionPermissions: new PermissionPatterns(rule.exceptionPermissions),
    condition: rule.denialCondition ? compileCondition(rule.denialCondition.expression) : undefined,
  }));
  return new CompiledDeny(rules, sharedPolicy);
}

function memberList(members: readonly string[]): readonly string[] | ReadonlySet<string> {
  return members.length > SMALL_BINDING ? new Set(members) : members;
}

export interface CheckInput {
  subject: Subject;
  permissions: readonly string[];
  attributes: ReadonlyMap<string, unknown>;
  requestTime: Timestamp;
  explain: boolean;
  /** With `explain`: which links (by index in the chain) explanations may name; undefined: all. */
  shown?: readonly boolean[] | undefined;
  /** What the call's conditions may spend, when the call checks more than one chain; undefined: a budget of its own. */
  budget?: ConditionBudget | undefined;
}

/**
 * One result per permission, in order. `chain` is the resource and its ancestors, from the resource up to the root;
 * undefined when the resource's type is not in the schema (it cannot be granted anything: as if absent).
 */
export function checkChain(schema: ResourceSchema, chain: readonly StoredPolicy[], input: CheckInput): PermissionCheck[] | undefined {
  const start = chain[0]?.resource;
  const type = start && schema.types.get(start.type);
  if (!start || !type) return undefined;
  let customRoles: Map<string, GrantingRole> | undefined;
  let denies = false;
  const links: Link[] = chain.map((link) => {
    const { resource, policy, deny, roles, shared } = link;
    const linkType = schema.types.get(resource.type);
    if (roles) {
      for (const role of roles) {
        const granting = grantingRole(schema, role);
        if (granting) (customRoles ??= new Map()).set(role.name, granting);
      }
    }
    const compiledLink = shared && linkType ? compileWithShared(link, linkType) : undefined;
    const bindings = compiledLink?.bindings ?? (linkType ? compile(policy, linkType) : NONE);
    const linkDenies = compiledLink?.denies ?? (deny ? [compileDeny(deny)] : NONE);
    if (linkDenies.length > 0) denies = true;
    return { name: resource.name, type: resource.type, bindings, denies: linkDenies };
  });
  const target = { name: start.name, type: type.name };
  const conditions = new CallConditions(conditionInput(target, input), input.budget);
  const context: ChainContext = { links, target, customRoles, denies, conditions };
  return input.permissions.map((permission) => checkPermission(context, permission, input));
}

interface ChainContext {
  links: readonly Link[];
  target: Target;
  /** The active custom roles defined on the chain (on its root), by name. */
  customRoles: ReadonlyMap<string, GrantingRole> | undefined;
  /** Whether any link has deny rules. */
  denies: boolean;
  /** The check's conditions: evaluated once each (for the target), within one budget for the whole check. */
  conditions: CallConditions;
}

/**
 * Whether a read of `logType` by `identities` through `service` is to be audited, by the audit configs of the
 * resource and its ancestors (IAM: the configs are unioned, and so are the exemptions).
 */
export function auditsRead(
  chain: readonly StoredPolicy[],
  service: string,
  logType: AuditLogConfig_LogType,
  identities: readonly string[],
): boolean {
  let enabled = false;
  for (const { policy } of chain) {
    for (const config of policy.auditConfigs) {
      if (config.service !== service && config.service !== ALL_SERVICES) continue;
      for (const log of config.auditLogConfigs) {
        if (log.logType !== logType) continue;
        if (identities.some((identity) => log.exemptedMembers.includes(identity))) return false;
        enabled = true;
      }
    }
  }
  return enabled;
}

interface Target {
  name: string;
  type: string;
}

/** What a binding grants on a link: a custom role only where it is active and grantable on the link's type. */
function permissionsOf(binding: CompiledBinding, link: Link, context: ChainContext): ReadonlySet<string> | undefined {
  if (binding.permissions) return binding.permissions;
  const role = context.customRoles?.get(binding.role);
  return role && role.types.has(link.type) ? role.permissions : undefined;
}

function checkPermission(context: ChainContext, permission: string, input: CheckInput): PermissionCheck {
  const { links } = context;
  const denyExplanations: DenyRuleExplanation[] | undefined = input.explain ? [] : undefined;
  const denied = context.denies ? checkDeny(context, permission, input, denyExplanations) : AccessState.NOT_GRANTED;
  if (denied === AccessState.DENIED && !input.explain) return create(PermissionCheckSchema, { permission, state: denied });
  let state = AccessState.NOT_GRANTED;
  const explanations: BindingExplanation[] = [];
  scan: for (let i = 0; i < links.length; i++) {
    const node = links[i]!;
    for (const indexed of node.bindings) {
      if (!permissionsOf(indexed, node, context)?.has(permission)) continue;
      const outcome = evaluate(indexed, context, input);
      if (input.explain && input.shown?.[i] !== false) {
        explanations.push(
          create(BindingExplanationSchema, {
            role: indexed.role,
            resource: node.name,
            sharedPolicy: indexed.sharedPolicy,
            condition: indexed.expr,
            state: outcome.state,
            matchedMember: outcome.matchedMember,
            reason: outcome.reason,
          }),
        );
      }
      if (outcome.state === AccessState.GRANTED) {
        state = AccessState.GRANTED;
        if (!input.explain) break scan;
      } else if (outcome.state === AccessState.UNKNOWN_CONDITIONAL && state === AccessState.NOT_GRANTED) {
        state = AccessState.UNKNOWN_CONDITIONAL;
      }
    }
  }
  return create(PermissionCheckSchema, { permission, state: combine(state, denied), explanations, denyExplanations });
}

/** Deny wins; an unknown deny turns a (possible) grant into unknown; without any grant, it stays not granted. */
export function combine(allow: AccessState, deny: AccessState): AccessState {
  if (deny === AccessState.DENIED) return AccessState.DENIED;
  if (allow === AccessState.NOT_GRANTED) return AccessState.NOT_GRANTED;
  return deny === AccessState.UNKNOWN_CONDITIONAL ? AccessState.UNKNOWN_CONDITIONAL : allow;
}

/** DENIED, UNKNOWN_CONDITIONAL (a matching rule's condition could not be evaluated) or NOT_GRANTED (no rule applies). */
function checkDeny(
  context: ChainContext,
  permission: string,
  input: CheckInput,
  explanations: DenyRuleExplanation[] | undefined,
): AccessState {
  let state = AccessState.NOT_GRANTED;
  for (let i = 0; i < context.links.length; i++) {
    const node = context.links[i]!;
    for (const deny of node.denies) {
      const candidates = deny.candidates(permission);
      // Most checks end here: no rule of the link denies this permission to any of the subject's identities.
      if (!explanations && input.subject.matchIn(candidates.principals) === undefined) continue;
      for (const rule of candidates.rules) {
        const outcome = evaluateDeny(rule, rule.permissions.match(permission)!, permission, context, input);
        // As for bindings: an explanation names a link only where the caller may see it (partial_explanations).
        if (explanations && input.shown?.[i] !== false) {
          explanations.push(
            create(DenyRuleExplanationSchema, {
              resource: node.name,
              sharedPolicy: deny.sharedPolicy,
              ruleIndex: rule.index,
              description: rule.description,
              state: outcome.state,
              matchedPrincipal: outcome.matchedMember,
              reason: outcome.reason,
            }),
          );
        }
        if (outcome.state === AccessState.DENIED) {
          if (!input.explain) return outcome.state;
          state = outcome.state;
        } else if (outcome.state === AccessState.UNKNOWN_CONDITIONAL && state === AccessState.NOT_GRANTED) {
          state = outcome.state;
        }
      }
    }
  }
  return state;
}

function evaluateDeny(rule: CompiledDenyRule, pattern: string, permission: string, context: ChainContext, input: CheckInput): Outcome {
  const except = rule.exceptionPermissions.match(permission);
  if (except !== undefined) {
    return { state: AccessState.NOT_GRANTED, matchedMember: "", reason: `${permission} is an exception permission of the rule (${except})` };
  }
  const matchedMember = input.subject.matchIn(rule.principals);
  if (matchedMember === undefined) {
    return { state: AccessState.NOT_GRANTED, matchedMember: "", reason: "no denied principal of the rule matches the subject" };
  }
  const exception = input.subject.matchIn(rule.exceptionPrincipals);
  if (exception !== undefined) {
    return { state: AccessState.NOT_GRANTED, matchedMember, reason: `the subject matches exception principal ${exception}` };
  }
  const why = `${matchedMember} is denied ${permission} by ${pattern}`;
  const condition = rule.condition;
  if (condition === undefined) return { state: AccessState.DENIED, matchedMember, reason: why };
  if (typeof condition === "string") {
    return { state: AccessState.UNKNOWN_CONDITIONAL, matchedMember, reason: `the denial condition is invalid: ${condition}` };
  }
  const result = context.conditions.evaluate(condition);
  if (result instanceof Error) {
    return {
      state: AccessState.UNKNOWN_CONDITIONAL,
      matchedMember,
      reason: `${why} if its denial condition holds, and it could not be evaluated: ${result.message}`,
    };
  }
  return result
    ? { state: AccessState.DENIED, matchedMember, reason: `${why}; the denial condition is true` }
    : { state: AccessState.NOT_GRANTED, matchedMember, reason: "the denial condition evaluated to false" };
}

/** What a condition (an allow binding's or a deny rule's) is evaluated against in a check of `resource`. */
function conditionInput(resource: Target, input: Pick<CheckInput, "requestTime" | "attributes">) {
  return {
    requestTime: input.requestTime,
    attributes: input.attributes,
    resourceName: resource.name,
    resourceType: resource.type,
  };
}

interface Outcome {
  state: AccessState;
  matchedMember: string;
  reason: string;
}

function evaluate(indexed: CompiledBinding, context: ChainContext, input: CheckInput): Outcome {
  const matchedMember = input.subject.matchIn(indexed.members);
  if (matchedMember === undefined) {
    return { state: AccessState.NOT_GRANTED, matchedMember: "", reason: "no member of the binding matches the subject" };
  }
  const condition = indexed.condition;
  if (condition === undefined) {
    return { state: AccessState.GRANTED, matchedMember, reason: `granted to ${matchedMember}` };
  }
  if (typeof condition === "string") {
    return { state: AccessState.UNKNOWN_CONDITIONAL, matchedMember, reason: `the condition is invalid: ${condition}` };
  }
  const result = context.conditions.evaluate(condition);
  if (result instanceof Error) {
    return {
      state: AccessState.UNKNOWN_CONDITIONAL,
      matchedMember,
      reason: `the condition could not be evaluated: ${result.message}`,
    };
  }
  return result
    ? { state: AccessState.GRANTED, matchedMember, reason: `granted to ${matchedMember}; the condition is true` }
    : { state: AccessState.NOT_GRANTED, matchedMember, reason: "the condition evaluated to false" };
}
