// Access decisions over a chain: the resource and its ancestors with their policies, as the store reads them (from
// its cache when hot). A check walks from the resource up to the root, so its cost depends on the depth and the
// bindings on that path only — never on how many other bindings are stored. No I/O here.
import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  AccessState,
  BindingExplanationSchema,
  PermissionCheckSchema,
  type BindingExplanation,
  type PermissionCheck,
} from "../../../gen/policy/v1/access_service_pb.js";
import type { AuditLogConfig_LogType, Expr, Policy } from "../../../gen/policy/v1/policy_pb.js";
import type { StoredPolicy } from "../../store/store.js";
import { compileCondition, type CompiledCondition } from "../conditions.js";
import type { ResourceSchema, ResourceType, Role } from "../schema/schema.js";
import type { Subject } from "./subject.js";import { isShared } from "../../shared-value.js";


/** The audit-config service name that applies to every service. */
export const ALL_SERVICES = "allServices";

interface CompiledBinding {
  /** The schema's role (its name string is shared by every binding of the role). */
  role: Role;
  /** What the role grants on the type of the resource the binding is attached to. */
  permissions: ReadonlySet<string>;
  /** A set only for large bindings; most have a few members, where an array is smaller and as fast. */
  members: readonly string[] | ReadonlySet<string>;
  /** The condition as written, for explanations. */
  expr: Expr | undefined;
  /** undefined: unconditional; a string: a condition that no longer compiles (never applies). */
  condition: CompiledCondition | string | undefined;
}

/** One level of a chain as a check reads it. */
interface Link {
  name: string;
  bindings: readonly CompiledBinding[];
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
  bindings = compileBindings(policy, type);
  if (isShared(policy)) compiled.set(policy, bindings);
  return bindings;
}

function compileBindings(policy: Policy, type: ResourceType): readonly CompiledBinding[] {
  const bindings = policy.bindings.flatMap((binding) => {
    const role = type.roles.get(binding.role);
    if (!role) return [];
    return [
      {
        role,
        permissions: role.permissions,
        members: binding.members.length > SMALL_BINDING ? new Set(binding.members) : binding.members,
        expr: binding.condition,
        condition: binding.condition ? compileCondition(binding.condition.expression) : undefined,
      },
    ];
  });
  return bindings.length === 0 ? NONE : bindings;
}

export interface CheckInput {
  subject: Subject;
  permissions: readonly string[];
  attributes: ReadonlyMap<string, unknown>;
  requestTime: Timestamp;
  explain: boolean;
  /** With `explain`: which links (by index in the chain) explanations may name; undefined: all. */
  shown?: readonly boolean[] | undefined;
}

/**
 * One result per permission, in order. `chain` is the resource and its ancestors, from the resource up to the root;
 * undefined when the resource's type is not in the schema (it cannot be granted anything: as if absent).
 */
export function checkChain(schema: ResourceSchema, chain: readonly StoredPolicy[], input: CheckInput): PermissionCheck[] | undefined {
  const start = chain[0]?.resource;
  const type = start && schema.types.get(start.type);
  if (!start || !type) return undefined;
  const links: Link[] = chain.map(({ resource, policy }) => {
    const linkType = schema.types.get(resource.type);
    return { name: resource.name, bindings: linkType ? compile(policy, linkType) : NONE };
  });
  const target = { name: start.name, type: type.name };
  return input.permissions.map((permission) => checkPermission(links, target, permission, input));
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

function checkPermission(links: readonly Link[], target: Target, permission: string, input: CheckInput): PermissionCheck {
  let state = AccessState.NOT_GRANTED;
  const explanations: BindingExplanation[] = [];
  for (let i = 0; i < links.length; i++) {
    const node = links[i]!;
    for (const indexed of node.bindings) {
      if (!indexed.permissions.has(permission)) continue;
      const outcome = evaluate(indexed, target, input);
      if (input.explain && input.shown?.[i] !== false) {
        explanations.push(
          create(BindingExplanationSchema, {
            role: indexed.role.name,
            resource: node.name,
            condition: indexed.expr,
            state: outcome.state,
            matchedMember: outcome.matchedMember,
            reason: outcome.reason,
          }),
        );
      }
      if (outcome.state === AccessState.GRANTED) {
        state = AccessState.GRANTED;
        if (!input.explain) return create(PermissionCheckSchema, { permission, state });
      } else if (outcome.state === AccessState.UNKNOWN_CONDITIONAL && state === AccessState.NOT_GRANTED) {
        state = AccessState.UNKNOWN_CONDITIONAL;
      }
    }
  }
  return create(PermissionCheckSchema, { permission, state, explanations });
}

interface Outcome {
  state: AccessState;
  matchedMember: string;
  reason: string;
}

function evaluate(indexed: CompiledBinding, resource: Target, input: CheckInput): Outcome {
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
  const result = condition.evaluate({
    requestTime: input.requestTime,
    attributes: input.attributes,
    resourceName: resource.name,
    resourceType: resource.type,
  });
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
