// The subject of an access check: the principals the caller says it is, and what binding members match it.
import { Violations, quoted } from "../../service-error.js";
import { ALL_AUTHENTICATED_USERS, ALL_USERS, canonicalMember } from "../members.js";

export const MAX_PRINCIPALS = 1000;
// A subject is live: `deleted:` members never match it. Federated identities match their exact member.
const PRINCIPAL_KINDS = ["user:", "serviceAccount:", "group:", "principal://", "principalSet://"];

export class Subject {
  /** The binding members that match the subject, most specific first. */
  private readonly matching: readonly string[];

  private constructor(matching: string[]) {
    this.matching = matching;
  }

  /** Validates `principals` (adding problems to `violations`) and returns the subject they make. */
  static of(principals: readonly string[], violations: Violations, field: string): Subject {
    if (principals.length > MAX_PRINCIPALS) violations.add(field, `at most ${MAX_PRINCIPALS} principals`);
    const matching = new Set<string>();
    const domains = new Set<string>();
    principals.forEach((principal, i) => {
      const result = canonicalMember(principal);
      if ("error" in result || !PRINCIPAL_KINDS.some((k) => result.member.startsWith(k))) {
        violations.add(`${field}[${i}]`, `${quoted(principal)} is not a principal; expected user:{email}, serviceAccount:{email}, group:{id}, principal://… or principalSet://…`);
        return;
      }
      matching.add(result.member);
      // IAM's domain: members match the users and service accounts of that domain.
      if (result.member.startsWith("user:") || result.member.startsWith("serviceAccount:")) domains.add(`domain:${result.member.slice(result.member.indexOf("@") + 1)}`);
    });
    for (const d of domains) matching.add(d);
    if (matching.size > 0) matching.add(ALL_AUTHENTICATED_USERS);
    matching.add(ALL_USERS);
    return new Subject([...matching]);
  }

  /** Every binding member that matches the subject: what a reverse lookup asks the store's member index for. */
  get members(): readonly string[] {
    return this.matching;
  }

  /** The first of `members` that matches the subject, or undefined. */
  matchIn(members: readonly string[] | ReadonlySet<string>): string | undefined {
    if (members instanceof Set) {
      for (const m of this.matching) if (members.has(m)) return m;
      return undefined;
    }
    const list = members as readonly string[];
    for (const m of this.matching) {
      for (let i = 0; i < list.length; i++) if (list[i] === m) return m;
    }
    return undefined;
  }
}
