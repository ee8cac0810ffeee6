// Who can: the binding members holding a permission on a resource, read off its chain (the resource and its
// ancestors with their policies). Members are listed as bound, one grant per (member, binding): no group expansion.
// The cost is that of the chain's bindings (depth × policy size, both bounded), never of what else is stored.
import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { AccessState, MemberGrantSchema, type MemberGrant } from "../../../gen/policy/v1/access_service_pb.js";
import type { Expr } from "../../../gen/policy/v1/policy_pb.js";
import type { StoredPolicy } from "../../store/store.js";
import { compileCondition, type ConditionBudget } from "../conditions.js";
import type { Role } from "../../../gen/policy/v1/role_pb.js";
import { grantingRole } from "../custom-roles.js";
import type { ResourceSchema, ResourceType } from "../../schema/schema.js";
import { Readable, type ChainDisclosure } from "./disclosure.js";
import { applyVerdicts, denyRulesFor, weighDenials } from "./lookup-denials.js";

/** How a lookup treats conditions. */
export interface ConditionEvaluation {
  /** false: conditional grants are listed as UNKNOWN_CONDITIONAL, unevaluated. */
  evaluate: boolean;
  attributes: ReadonlyMap<string, unknown>;
  requestTime: Timestamp;
  /** What the call's conditions may spend together. */
  budget: ConditionBudget;
}

/**
 * Every grant of `permission` on the resource `chain` is of, sorted by member, binding resource, role and condition,
 * as the caller may read them (`disclosure`; undefined: all): the bindings of links it may not read, and of shared
 * policies it may not read, are left out, and denied principals are named only from deny rules it may read; `partial`
 * says whether anything was.
 */
export async function memberGrants(
  schema: ResourceSchema,
  chain: readonly StoredPolicy[],
  permission: string,
  evaluation: ConditionEvaluation,
  disclosure?: ChainDisclosure,
): Promise<{ grants: MemberGrant[]; partial: boolean }> {
  const shown = disclosure?.links(chain);
  const found = allowGrants(schema, chain, permission, evaluation, shown);
  const verdicts = weighDenials(chain[0]!.resource, denyRulesFor(chain, permission), evaluation, found.map((g) => g.member));
  const denying = [...verdicts.values()]
    .flatMap((verdict) => [...verdict.partly.values()].flat())
    .filter((source) => shown?.[source.link] !== false);
  // Asked once each, and only about what the answer would name.
  const readable = await Readable.of(chain, disclosure, shown, {
    sharedPolicies: [...found.map((g) => g.sharedPolicy), ...denying.map((source) => source.sharedPolicy)],
    denyPolicies: denying.some((source) => source.sharedPolicy === ""),
  });
  const kept = found.filter((grant) => readable.sharedPolicy(grant.sharedPolicy));
  const { grants, unnamed } = applyVerdicts(kept, verdicts, (source) => readable.denyRule(source));
  return {
    grants: grants.sort((a, b) => compareKeys(grantKey(a), grantKey(b))),
    partial: (shown?.includes(false) ?? false) || kept.length < found.length || unnamed,
  };
}

/** The allow grants of `permission` on the links `shown` of `chain` (undefined: all), deny rules not yet weighed. */
function allowGrants(
  schema: ResourceSchema,
  chain: readonly StoredPolicy[],
  permission: string,
  evaluation: ConditionEvaluation,
  shown: readonly boolean[] | undefined,
): MemberGrant[] {
  const target = chain[0]!.resource;
  const customRoles = chain.at(-1)?.roles ?? [];
  const grants: MemberGrant[] = [];
  chain.forEach(({ resource, policy, shared }, i) => {
    if (shown?.[i] === false) return;
    const type = schema.types.get(resource.type);
    // The resource's own bindings, then those of the shared policies bound to it (read with its type, as checks do).
    const sources = [
      { sharedPolicy: "", bindings: policy.bindings },
      ...(shared ?? []).map((sp) => ({ sharedPolicy: sp.name, bindings: sp.bindings })),
    ];
    for (const { sharedPolicy, bindings } of sources) for (const binding of bindings) {
      // A role is looked up on the type of the resource it is granted on, as checkChain does.
      if (!grantsOn(schema, customRoles, type, binding.role, permission)) continue;
      const state = conditionState(binding.condition, { name: target.name, type: target.type }, evaluation);
      if (state === AccessState.NOT_GRANTED) continue;
      for (const member of binding.members) {
        grants.push(
          create(MemberGrantSchema, {
            member,
            role: binding.role,
            resource: resource.name,
            condition: binding.condition,
            conditional: binding.condition !== undefined,
            state,
            sharedPolicy,
          }),
        );
      }
    }
  });
  return grants;
}

/** Whether `role`, bound on a resource of `type`, grants `permission` there: a predefined role, or an active custom one. */
export function grantsOn(schema: ResourceSchema, customRoles: readonly Role[], type: ResourceType | undefined, role: string, permission: string): boolean {
  if (!type) return false;
  const predefined = type.roles.get(role);
  if (predefined) return predefined.permissions.has(permission);
  const custom = customRoles.find((r) => r.name === role);
  const active = custom && grantingRole(schema, custom);
  return !!active && active.types.has(type.name) && active.permissions.has(permission);
}

/** A grant's place in the listing: its page-token key. */
export function grantKey(grant: MemberGrant): readonly string[] {
  return [grant.member, grant.resource, grant.role, grant.condition?.expression ?? "", grant.sharedPolicy];
}

export function compareKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i] ?? "";
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** GRANTED, UNKNOWN_CONDITIONAL (unevaluated, invalid, or failed), or NOT_GRANTED (false). */
function conditionState(condition: Expr | undefined, resource: { name: string; type: string }, evaluation: ConditionEvaluation): AccessState {
  if (condition === undefined) return AccessState.GRANTED;
  if (!evaluation.evaluate) return AccessState.UNKNOWN_CONDITIONAL;
  const compiled = compileCondition(condition.expression);
  if (typeof compiled === "string") return AccessState.UNKNOWN_CONDITIONAL;
  const input = { requestTime: evaluation.requestTime, attributes: evaluation.attributes, resourceName: resource.name, resourceType: resource.type };
  const result = compiled.evaluate(input, evaluation.budget);
  if (result instanceof Error) return AccessState.UNKNOWN_CONDITIONAL;
  return result ? AccessState.GRANTED : AccessState.NOT_GRANTED;
}
