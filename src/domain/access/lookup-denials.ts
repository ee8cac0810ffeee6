// Deny rules in reverse lookups. What-can decides each resource with checkChain, deny included (lookups.ts); who-can
// finds the allow grants from the bindings, then weighs each deny rule on the chain against each member as the set of
// principals it stands for: a rule whose denied principals cover the whole member takes the grant away (DENIED: left
// out), one that covers part of it (`domain:example.com` with one of its users denied, `allUsers` with
// `allAuthenticatedUsers` denied, an exception inside the member) leaves it partly denied, and a rule whose condition
// cannot be evaluated leaves only conditional access.
import { AccessState, type MemberGrant } from "../../../gen/policy/v1/access_service_pb.js";
import type { DenyRule } from "../../../gen/policy/v1/deny_policy_pb.js";
import type { StoredPolicy } from "../../store/store.js";
import { compileCondition, type ConditionInput } from "../conditions.js";
import { PermissionPatterns } from "../deny-rules.js";
import { ALL_AUTHENTICATED_USERS, ALL_USERS } from "../members.js";
import type { ConditionEvaluation } from "./who-can.js";

/** What one member keeps of a grant once the chain's deny rules are weighed. */
interface Verdict {
  /** DENIED (every principal of the member), UNKNOWN_CONDITIONAL (a deny that may apply), or NOT_GRANTED (none). */
  state: AccessState;
  /** Denied principals that take the permission from part of the member. */
  partly: Set<string>;
}

/** How much of a member a principal pattern covers. */
type Cover = "all" | "some" | "none";

/**
 * Who can: `grants` are the allow grants of `permission` found on `chain` (the resource, then its ancestors); returns
 * those that deny rules on the chain leave standing, each partly denied one marked so with the principals denied.
 * Group membership lives outside the service: a group is neither inside a domain nor holds a given user, as in checks.
 */
export function applyDenialsToMembers(
  chain: readonly StoredPolicy[],
  permission: string,
  evaluation: ConditionEvaluation,
  grants: MemberGrant[],
): MemberGrant[] {
  const rules = denyRulesFor(chain, permission);
  if (rules.length === 0) return grants;
  const target = chain[0]!.resource;
  const conditionInput: ConditionInput = {
    requestTime: evaluation.requestTime,
    attributes: evaluation.attributes,
    resourceName: target.name,
    resourceType: target.type,
  };
  const verdicts = new Map<string, Verdict>();
  const verdictOf = (member: string): Verdict => {
    let verdict = verdicts.get(member);
    if (verdict === undefined) {
      verdict = { state: AccessState.NOT_GRANTED, partly: new Set() };
      for (const rule of rules) weigh(rule, member, conditionInput, verdict);
      verdicts.set(member, verdict);
    }
    return verdict;
  };
  return grants.flatMap((grant) => {
    const verdict = verdictOf(grant.member);
    if (verdict.state === AccessState.DENIED) return [];
    const weighed = { ...grant };
    if (verdict.state === AccessState.UNKNOWN_CONDITIONAL && grant.state === AccessState.GRANTED) weighed.state = AccessState.UNKNOWN_CONDITIONAL;
    if (verdict.partly.size > 0) {
      weighed.partlyDenied = true;
      weighed.deniedPrincipals = [...verdict.partly].sort();
    }
    return [weighed];
  });
}

/** The rules on the chain (own deny policies and bound shared policies) that deny `permission`, not excepting it. */
function denyRulesFor(chain: readonly StoredPolicy[], permission: string): DenyRule[] {
  const rules: DenyRule[] = [];
  for (const link of chain) {
    const sources = [link.deny?.rules ?? [], ...(link.shared ?? []).map((sp) => sp.denyRules)];
    for (const source of sources) {
      for (const rule of source) {
        if (new PermissionPatterns(rule.deniedPermissions).match(permission) === undefined) continue;
        if (new PermissionPatterns(rule.exceptionPermissions).match(permission) !== undefined) continue;
        rules.push(rule);
      }
    }
  }
  return rules;
}

/** Adds what `rule` does to `member` to its verdict. */
function weigh(rule: DenyRule, member: string, conditionInput: ConditionInput, verdict: Verdict): void {
  const denied = strongest(rule.deniedPrincipals, member);
  if (denied.cover === "none") return;
  const excepted = strongest(rule.exceptionPrincipals, member);
  if (excepted.cover === "all") return;
  let applies: AccessState = AccessState.DENIED;
  if (rule.denialCondition) {
    const condition = compiled(rule.denialCondition.expression);
    const result = condition ? condition.evaluate(conditionInput) : new Error("invalid condition");
    if (result === false) return;
    if (result instanceof Error) applies = AccessState.UNKNOWN_CONDITIONAL;
  }
  if (denied.cover === "all" && excepted.cover === "none") {
    if (applies === AccessState.DENIED) verdict.state = AccessState.DENIED;
    else if (verdict.state === AccessState.NOT_GRANTED) verdict.state = AccessState.UNKNOWN_CONDITIONAL;
    return;
  }
  // Part of the member is denied: the principals of the rule inside it, or all of it but its exceptions.
  for (const principal of rule.deniedPrincipals) if (cover(principal, member) !== "none") verdict.partly.add(principal);
}

function compiled(expression: string) {
  const condition = compileCondition(expression);
  return typeof condition === "string" ? undefined : condition;
}

/** The widest cover of `member` by any of `principals`. */
function strongest(principals: readonly string[], member: string): { cover: Cover } {
  let best: Cover = "none";
  for (const principal of principals) {
    const c = cover(principal, member);
    if (c === "all") return { cover: c };
    if (c === "some") best = c;
  }
  return { cover: best };
}

/**
 * How much of the principals `member` stands for `principal` (a denied or exception principal) covers: all of them
 * when the member lies inside it (`user:ada@example.com` inside `domain:example.com`, everything authenticated inside
 * `allAuthenticatedUsers`), some when it lies strictly inside the member, none otherwise.
 */
export function cover(principal: string, member: string): Cover {
  if (containers(member).includes(principal)) return "all";
  if (containers(principal).includes(member)) return "some";
  return "none";
}

/** The member and every wider member that holds all of its principals, as a check's subject matches them. */
function containers(member: string): string[] {
  if (member === ALL_USERS) return [ALL_USERS];
  if (member === ALL_AUTHENTICATED_USERS) return [member, ALL_USERS];
  if (member.startsWith("domain:")) return [member, ALL_AUTHENTICATED_USERS, ALL_USERS];
  if (member.startsWith("user:") || member.startsWith("serviceAccount:")) {
    return [member, `domain:${member.slice(member.indexOf("@") + 1)}`, ALL_AUTHENTICATED_USERS, ALL_USERS];
  }
  if (member.startsWith("group:") || member.startsWith("principal://") || member.startsWith("principalSet://")) {
    return [member, ALL_AUTHENTICATED_USERS, ALL_USERS];
  }
  // A deleted principal acts as nobody; only a rule on everyone covers it.
  return [member, ALL_USERS];
}
