// What the one write path of each store (writeAttached in sqlite-store.ts and postgres-store.ts) writes for an object
// attached to a resource — its access policy (Store.updatePolicy) or a document (Store.updateDocument): read → decide →
// the body in its slot, the member-index rows, the change-log row, in one transaction. The two contract methods differ
// only in what `decide` is given and returns; they translate it here, once for both databases. Every attached object
// is a document (an access policy: kind `policy`, key ''); what differs is its member index (see `grants`).
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import { changeAction, type ChangeAction } from "./change-actions.js";
import { POLICY_KIND } from "./documents.js";
import { encodePolicy, grantRows } from "./rows.js";
import type { DocumentWrite } from "./store.js";

export interface Grant {
  member: string;
  role: string;
}

/** Where an attached write's body goes: the resource's document of a kind and key, with its entry count. */
export interface AttachedSlot {
  kind: string;
  key: string;
  entries: number;
}

/** An attached write as the write path runs it, whichever contract method asked for it. */
export interface AttachedWrite {
  slot: AttachedSlot;
  body: Uint8Array;
  /**
   * The member-index rows the body grants, replacing the resource's rows of the documents' index (by resource:
   * shared_member_grants); undefined: left as they are.
   */
  grants?: readonly Grant[];
  /**
   * An access policy's index rows instead (by path: member_grants, the grant points), with the rows the body granted
   * before, so that a store may write only the difference (grantDiff).
   */
  pathGrants?: { after: readonly Grant[]; before: () => readonly Grant[] };
  action: ChangeAction;
  etagBefore: Uint8Array | null;
  /** The state the change-log row keeps; null for none. */
  logged: Uint8Array | null;
  /** The resource to register with the body, when it does not exist (an owned document: DocumentWrite.create). */
  create?: { parent: string; type: string };
}

/** An access policy's write: `policy` as decided over `current` (undefined: deleted, an empty policy stored). */
export function policyWrite(current: Policy, policy: Policy | undefined): AttachedWrite {
  const { bytes, bindingCount } = encodePolicy(policy);
  return {
    slot: { kind: POLICY_KIND, key: "", entries: bindingCount },
    body: bytes,
    pathGrants: { after: grantRows(policy?.bindings ?? []), before: () => grantRows(current.bindings) },
    action: policy ? changeAction("policy", "set") : changeAction("policy", "delete"),
    etagBefore: current.etag,
    logged: policy ? bytes : null,
  };
}

/** A document's write (Store.updateDocument), as its kind's `decide` worked it out. */
export function documentWrite(kind: string, key: string, write: DocumentWrite): AttachedWrite {
  // An access policy's member index is by path, and PostgreSQL batches its writes: only updatePolicy writes one.
  if (kind === POLICY_KIND) throw new Error(`a "${POLICY_KIND}" document is written through updatePolicy, not updateDocument`);
  return {
    slot: { kind, key, entries: write.entries },
    body: write.body,
    grants: write.grants,
    action: write.action,
    etagBefore: write.etagBefore,
    logged: write.logged,
    create: write.create,
  };
}
