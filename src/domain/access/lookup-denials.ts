// Deny rules in reverse lookups. What-can decides each resource with checkChain, deny included (lookups.ts); who-can
// finds the allow grants from the bindings, then asks the same engine, for each member taken as a subject, whether a
// deny rule on the chain takes the grant away (DENIED: left out) or may (a conditional deny: UNKNOWN_CONDITIONAL).
import { AccessState, type MemberGrant } from "../../../gen/policy/v1/access_service_pb.js";
import { Violations } from "../../errors.js";
import type { StoredPolicy } from "../../store/store.js";
import { ALL_USERS } from "../members.js";
import type { ResourceSchema } from "../schema/schema.js";
import { checkChain } from "./chain-check.js";
import { Subject } from "./subject.js";
import type { ConditionEvaluation } from "./who-can.js";

/**
 * Who can: `grants` are the allow grants of `permission` found on `chain` (the resource, then its ancestors); returns
 * those that deny rules on the chain leave standing. A member that cannot be a subject (`domain:`,
 * `allAuthenticatedUsers`, a deleted principal) is judged by deny rules naming it or everyone (`allUsers`) only.
 */
export function applyDenialsToMembers(
  schema: ResourceSchema,
  chain: readonly StoredPolicy[],
  permission: string,
  evaluation: ConditionEvaluation,
  grants: MemberGrant[],
): MemberGrant[] {
  if (!chain.some((link) => link.deny)) return grants;
  const verdicts = new Map<string, AccessState>();
  const verdictOf = (member: string): AccessState => {
    let verdict = verdicts.get(member);
    if (verdict === undefined) {
      const subject = subjectOf(member);
      const input = { subject, permissions: [permission], ...evaluation, explain: true };
      const denies = checkChain(schema, chain, input)?.[0]?.denyExplanations ?? [];
      verdict = denies.some((d) => d.state === AccessState.DENIED)
        ? AccessState.DENIED
        : denies.some((d) => d.state === AccessState.UNKNOWN_CONDITIONAL)
          ? AccessState.UNKNOWN_CONDITIONAL
          : AccessState.NOT_GRANTED;
      verdicts.set(member, verdict);
    }
    return verdict;
  };
  return grants.flatMap((grant) => {
    const verdict = verdictOf(grant.member);
    if (verdict === AccessState.DENIED) return [];
    if (verdict === AccessState.UNKNOWN_CONDITIONAL && grant.state === AccessState.GRANTED) {
      return [{ ...grant, state: AccessState.UNKNOWN_CONDITIONAL }];
    }
    return [grant];
  });
}

/** The member as the subject of a check: a principal as itself; anything else as the anonymous subject (allUsers). */
function subjectOf(member: string): Subject {
  const violations = new Violations();
  const subject = Subject.of(member === ALL_USERS ? [] : [member], violations, "member");
  return violations.empty ? subject : Subject.of([], new Violations(), "member");
}
