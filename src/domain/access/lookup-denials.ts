// The hook where deny rules apply to reverse lookups. Allow bindings decide what the lookups find; a deny rule on the
// resource or an ancestor then takes a member (who can) or a resource (what can) out of the answer, or marks it
// conditional when the deny has a condition. There are no deny rules yet: both functions return what they are given.
// What-can checks each resource it lists with checkChain, so deny rules applied there reach it too; this hook is
// for what checkChain cannot tell it (e.g. a conditional deny left unevaluated).
import type { MemberGrant, ResourceAccess } from "../../../gen/policy/v1/access_service_pb.js";
import type { StoredPolicy } from "../../store/store.js";

/**
 * Who can: `grants` are the allow grants of `permission` found on `chain` (the resource, then its ancestors); returns
 * those that deny rules on the chain leave standing.
 */
export function applyDenialsToMembers(chain: readonly StoredPolicy[], permission: string, grants: MemberGrant[]): MemberGrant[] {
  void chain;
  void permission;
  return grants;
}

/**
 * What can: `access` is how the subject (`members`, as the member index matches it) holds `permission` on the resource
 * `chain` is of; returns it as deny rules on the chain leave it, or undefined when they take it away.
 */
export function applyDenialsToResource(
  chain: readonly StoredPolicy[],
  members: readonly string[],
  permission: string,
  access: ResourceAccess,
): ResourceAccess | undefined {
  void chain;
  void members;
  void permission;
  return access;
}
