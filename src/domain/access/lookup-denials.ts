// Deny rules in reverse lookups. What-can decides each resource with checkChain, deny included (lookups.ts); who-can
// finds the allow grants from the bindings, then weighs each deny rule on the chain against each member as the set of
// principals it stands for: a rule whose denied principals cover the whole member takes the grant away (DENIED: left
// out), one that covers part of it (`domain:example.com` with one of its users denied, `allUsers` with
// `allAuthenticatedUsers` denied, an exception inside the member) leaves it partly denied, and a rule whose condition
// cannot be evaluated leaves only conditional access.
import { AccessState, type MemberGrant } from "../../../gen/policy/v1/access_service_pb.js";
import type { DenyRule } from "../../../gen/policy/v1/deny_policy_pb.js";
import type { Resource } from "../../../gen/policy/v1/resource_pb.js";
import type { StoredPolicy } from "../../store/store.js";
import { CallConditions, compileCondition } from "../conditions.js";
import { PermissionPatterns } from "../deny-rules.js";
import { ALL_AUTHENTICATED_USERS, ALL_USERS } from "../members.js";
import type { Source } from "./disclosure.js";
import type { ConditionEvaluation } from "./who-can.js";

/** A deny rule of a chain, with where it is held. */
export interface HeldRule {
  rule: DenyRule;
  source: Source;
}

/** What one member keeps of a grant once the chain's deny rules are weighed. */
export interface Verdict {
  /** DENIED (every principal of the member), UNKNOWN_CONDITIONAL (a deny that may apply), or NOT_GRANTED (none). */
  state: AccessState;
  /** Denied principals that take the permission from part of the member, each with where the rules denying it are. */
  partly: Map<string, Source[]>;
}

/** How much of a member a principal pattern covers. */
type Cover = "all" | "some" | "none";

/**
 * Who can: what the deny rules `rules` (those on the chain of `target` that deny the permission) do to each of
 * `members`, the members of the allow grants found. Group membership lives outside the service: a group is neither
 * inside a domain nor holds a given user, as in checks.
 */
export function weighDenials(
  target: Resource,
  rules: readonly HeldRule[],
  evaluation: ConditionEvaluation,
  members: Iterable<string>,
): Map<string, Verdict> {
  const verdicts = new Map<string, Verdict>();
  if (rules.length === 0) return verdicts;
  // A deny condition reads the request and the target, never the member: each is evaluated once, within the call's
  // budget, however many members it is weighed against.
  const conditions = new CallConditions(
    { requestTime: evaluation.requestTime, attributes: evaluation.attributes, resourceName: target.name, resourceType: target.type },
    evaluation.budget,
  );
  for (const member of members) {
    if (verdicts.has(member)) continue;
    const verdict: Verdict = { state: AccessState.NOT_GRANTED, partly: new Map() };
    for (const held of rules) weigh(held, member, conditions, verdict);
    verdicts.set(member, verdict);
  }
  return verdicts;
}

/**
 * The grants that `verdicts` leave standing, each partly denied one marked so with the principals denied — only those
 * of rules the caller may read (`readable`); `unnamed` says whether any principal was left out for that.
 */
export function applyVerdicts(
  grants: readonly MemberGrant[],
  verdicts: ReadonlyMap<string, Verdict>,
  readable: (source: Source) => boolean,
): { grants: MemberGrant[]; unnamed: boolean } {
  let unnamed = false;
  const standing = grants.flatMap((grant) => {
    const verdict = verdicts.get(grant.member);
    if (!verdict) return [grant];
    if (verdict.state === AccessState.DENIED) return [];
    const weighed = { ...grant };
    if (verdict.state === AccessState.UNKNOWN_CONDITIONAL && grant.state === AccessState.GRANTED) weighed.state = AccessState.UNKNOWN_CONDITIONAL;
    if (verdict.partly.size > 0) {
      // Who is partly denied is part of the decision, shown to everyone; who denies it, only to the rules' readers.
      weighed.partlyDenied = true;
      const named = [...verdict.partly].filter(([, sources]) => sources.some(readable)).map(([principal]) => principal);
      if (named.length < verdict.partly.size) unnamed = true;
      weighed.deniedPrincipals = named.sort();
    }
    return [weighed];
  });
  return { grants: standing, unnamed };
}

/** The rules on the chain (own deny policies and bound shared policies) that deny `permission`, not excepting it. */
export function denyRulesFor(chain: readonly StoredPolicy[], permission: string): HeldRule[] {
  const rules: HeldRule[] = [];
  chain.forEach((link, i) => {
    const sources = [
      { sharedPolicy: "", rules: link.deny?.rules ?? [] },
      ...(link.shared ?? []).map((sp) => ({ sharedPolicy: sp.name, rules: sp.denyRules })),
    ];
    for (const { sharedPolicy, rules: held } of sources) {
      for (const rule of held) {
        if (new PermissionPatterns(rule.deniedPermissions).match(permission) === undefined) continue;
        if (new PermissionPatterns(rule.exceptionPermissions).match(permission) !== undefined) continue;
        rules.push({ rule, source: { link: i, sharedPolicy } });
      }
    }
  });
  return rules;
}

/** Adds what `rule` does to `member` to its verdict. */
function weigh({ rule, source }: HeldRule, member: string, conditions: CallConditions, verdict: Verdict): void {
  const denied = strongest(rule.deniedPrincipals, member);
  if (denied.cover === "none") return;
  const excepted = strongest(rule.exceptionPrincipals, member);
  if (excepted.cover === "all") return;
  let applies: AccessState = AccessState.DENIED;
  if (rule.denialCondition) {
    const condition = compiled(rule.denialCondition.expression);
    const result = condition ? conditions.evaluate(condition) : new Error("invalid condition");
    if (result === false) return;
    if (result instanceof Error) applies = AccessState.UNKNOWN_CONDITIONAL;
  }
  if (denied.cover === "all" && excepted.cover === "none") {
    if (applies === AccessState.DENIED) verdict.state = AccessState.DENIED;
    else if (verdict.state === AccessState.NOT_GRANTED) verdict.state = AccessState.UNKNOWN_CONDITIONAL;
    return;
  }
  // Part of the member is denied: the principals of the rule inside it, or all of it but its exceptions.
  for (const principal of rule.deniedPrincipals) {
    if (cover(principal, member) === "none") continue;
    const sources = verdict.partly.get(principal);
    if (sources) sources.push(source);
    else verdict.partly.set(principal, [source]);
  }
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
