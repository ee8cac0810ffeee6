// The permission each read needs, written once. The read's RPC rule (rpc/auth/authorization-rules.ts) and every other path that
// shows the same thing — Watch (watch-visibility.ts), Snapshot, lookups and effective policies (disclosure), audit
// entries, consumers — ask for the same one, so no path shows a caller what another would refuse it.
import { permissionOn } from "../names.js";

/** A read of something attached to a resource needs `{collection}.{verb}` on that resource. */
export const READ_VERB = {
  /** GetResource: that the resource exists, its parent and labels. */
  resource: "get",
  /** GetPolicy, and whatever shows a policy or who changed it (lookups, Snapshot, Watch, consumers, audit entries). */
  policy: "getPolicy",
  denyPolicy: "getDenyPolicy",
  /** A custom role, on the organization that defines it. */
  role: "getRole",
  /** A shared-policy binding, the target's half (AIP-2511). */
  sharedPolicyBinding: "getSharedPolicyBinding",
} as const;

export type ReadOf = keyof typeof READ_VERB;
export type ReadVerb = (typeof READ_VERB)[ReadOf];

/** Reads of a shared policy are checked on the shared policy itself, not named after a collection. */
export const SHARED_POLICY_READ = {
  /** GetSharedPolicy. */
  policy: "sharedPolicies.get",
  /** A binding, the shared policy's half (AIP-2511). */
  binding: "sharedPolicies.getBinding",
} as const;

/** The permission reading `what` of `resource` needs: `readPermission("clouds/c1", "policy")` is `clouds.getPolicy`. */
export function readPermission(resource: string, what: ReadOf): string {
  return permissionOn(resource, READ_VERB[what]);
}
