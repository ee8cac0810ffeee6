// What the policy memo knows of one entry (a resource with its policy, deny rules, roles and shared policies): whether
// two reads of it are the same revision, and roughly what it weighs in memory.
import type { StoredPolicy } from "../store.js";

/** Whether `a` and `b` are the same revision of every part of a chain link (then `a`, shared already, is kept). */
export function sameRevision(a: StoredPolicy, b: StoredPolicy): boolean {
  return (
    a.resource.etag === b.resource.etag &&
    Buffer.from(a.policy.etag).equals(b.policy.etag) &&
    sameEtags(a.deny ? [a.deny] : [], b.deny ? [b.deny] : []) &&
    sameEtags(a.roles ?? [], b.roles ?? []) &&
    sameEtags(a.shared ?? [], b.shared ?? []) &&
    (a.shared ?? []).every((x, i) => x.name === b.shared![i]!.name)
  );
}

function sameEtags(a: readonly { etag: Uint8Array }[], b: readonly { etag: Uint8Array }[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.from(x.etag).equals(b[i]!.etag));
}

/** Roughly the heap a decoded entry takes: its resource and the policy's objects. */
export function estimatedBytes(stored: StoredPolicy): number {
  let members = 0;
  for (const binding of stored.policy.bindings) for (const member of binding.members) members += member.length;
  let denyBytes = 0;
  for (const rule of stored.deny?.rules ?? []) {
    for (const list of [rule.deniedPrincipals, rule.exceptionPrincipals, rule.deniedPermissions, rule.exceptionPermissions]) {
      for (const item of list) denyBytes += item.length * 3;
    }
    denyBytes += 300;
  }
  for (const role of stored.roles ?? []) denyBytes += 400 + role.includedPermissions.length * 60;
  // A shared policy is decoded once per link that holds it: about as much as a policy and a deny policy.
  for (const shared of stored.shared ?? []) {
    denyBytes += 600 + shared.bindings.length * 200 + shared.denyRules.length * 300;
    for (const binding of shared.bindings) for (const member of binding.members) denyBytes += member.length * 3;
  }
  return 600 + stored.resource.name.length * 2 + stored.policy.bindings.length * 200 + members * 3 + denyBytes;
}
