// What the policy memo knows of one entry (a resource with its policy, deny rules, roles and shared policies): whether
// two reads of it are the same revision (what it weighs in memory is the contract's estimatedBytes, store.ts).
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
