// The in-memory index that access checks read: every resource with its parent and its compiled bindings. A check
// walks from the resource up to the root, so its cost depends on the depth and the bindings on that path only —
// never on how many other bindings are stored. The index follows the change log (see access.ts); no SQL here.
import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  AccessState,
  BindingExplanationSchema,
  PermissionCheckSchema,
  type BindingExplanation,
  type PermissionCheck,
} from "../../../gen/policy/v1/access_service_pb.js";
import type { AuditConfig, AuditLogConfig_LogType, Expr, Policy } from "../../../gen/policy/v1/policy_pb.js";

/** The audit-config service name that applies to every service. */
export const ALL_SERVICES = "allServices";
import { compileCondition, type CompiledCondition } from "../conditions.js";
import type { ResourceSchema, ResourceType, Role } from "../schema/schema.js";
import type { Subject } from "./subject.js";

// Kept small: the index holds every binding of every policy (about 1 KB per stored binding would be 1 GB at 1M).
interface IndexedBinding {
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

interface Node {
  readonly name: string;
  readonly type: ResourceType;
  parent: Node | undefined;
  bindings: readonly IndexedBinding[];
  auditConfigs: readonly AuditConfig[];
}

/** The shared empty list of the many resources without bindings or audit configs. */
const NONE: readonly never[] = [];
const SMALL_BINDING = 8;

export interface CheckInput {
  subject: Subject;
  permissions: readonly string[];
  attributes: ReadonlyMap<string, unknown>;
  requestTime: Timestamp;
  explain: boolean;
}

export class AccessIndex {
  private readonly nodes = new Map<string, Node>();
  /** The change-log sequence this index reflects. */
  sequence = 0;

  constructor(private readonly schema: ResourceSchema) {}

  get size(): number {
    return this.nodes.size;
  }

  has(resource: string): boolean {
    return this.nodes.has(resource);
  }

  /** Adds or moves a resource. A parent is always indexed before its children (creation order, snapshot order). */
  putResource(name: string, parent: string, typeName: string): void {
    const parentNode = parent === "" ? undefined : this.nodes.get(parent);
    const existing = this.nodes.get(name);
    if (existing) {
      existing.parent = parentNode;
      return;
    }
    const type = this.schema.types.get(typeName);
    // A type the current schema no longer has cannot be granted anything; it is not indexed.
    if (!type) return;
    this.nodes.set(name, { name, type, parent: parentNode, bindings: NONE, auditConfigs: NONE });
  }

  deleteResource(name: string): void {
    this.nodes.delete(name);
  }

  setPolicy(resource: string, policy: Policy | undefined): void {
    const node = this.nodes.get(resource);
    if (!node) return;
    node.auditConfigs = policy?.auditConfigs.length ? policy.auditConfigs : NONE;
    const bindings = (policy?.bindings ?? []).flatMap((binding) => {
      const role = node.type.roles.get(binding.role);
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
    node.bindings = bindings.length > 0 ? bindings : NONE;
  }

  /**
   * Whether a read of `logType` by `identities` through `service` is to be audited, by the audit configs of the
   * resource and its ancestors (IAM: the configs are unioned, and so are the exemptions).
   */
  auditsRead(resource: string, service: string, logType: AuditLogConfig_LogType, identities: readonly string[]): boolean {
    let enabled = false;
    for (let node = this.nodes.get(resource); node; node = node.parent) {
      for (const config of node.auditConfigs) {
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

  /** One result per permission, in order; undefined when the resource is not indexed. */
  check(resource: string, input: CheckInput): PermissionCheck[] | undefined {
    const start = this.nodes.get(resource);
    if (!start) return undefined;
    return input.permissions.map((permission) => checkPermission(start, permission, input));
  }
}

function checkPermission(start: Node, permission: string, input: CheckInput): PermissionCheck {
  let state = AccessState.NOT_GRANTED;
  const explanations: BindingExplanation[] = [];
  for (let node: Node | undefined = start; node; node = node.parent) {
    for (const indexed of node.bindings) {
      if (!indexed.permissions.has(permission)) continue;
      const outcome = evaluate(indexed, start, input);
      if (input.explain) {
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

function evaluate(indexed: IndexedBinding, resource: Node, input: CheckInput): Outcome {
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
    resourceType: resource.type.name,
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
