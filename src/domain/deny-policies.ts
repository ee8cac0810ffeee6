// The deny-policy facade: one deny policy per resource, validated, canonical, written with etag concurrency exactly
// like allow policies (a stale etag is ABORTED; no etag overwrites).
import { create } from "@bufbuild/protobuf";
import { DenyPolicySchema, type DenyPolicy } from "../../gen/policy/v1/deny_policy_pb.js";
import type {
  DeleteDenyPolicyRequest,
  GetDenyPolicyRequest,
  SetDenyPolicyRequest,
} from "../../gen/policy/v1/deny_policy_service_pb.js";
import { Violations, notFound, staleEtag } from "../service-error.js";
import type { Actor, Store } from "../store/store.js";
import { compileInTurns } from "./conditions.js";
import { canonicalDenyRules } from "./deny-rules.js";
import { sameEtag } from "../etag.js";
import { getDenyPolicy, updateDenyPolicy } from "./kinds.js";
import { requireResourceName } from "./names.js";
import type { ResourceSchema } from "../schema/schema.js";
import { fromStore } from "./store-errors.js";

export class DenyPolicies {
  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
  ) {}

  async get({ resource }: GetDenyPolicyRequest): Promise<DenyPolicy> {
    requireResourceName(this.schema, "resource", resource);
    const stored = await getDenyPolicy(this.store, resource);
    if (!stored) throw notFound(resource);
    return stored;
  }

  async set({ resource, denyPolicy }: SetDenyPolicyRequest, actor: Actor): Promise<DenyPolicy> {
    requireResourceName(this.schema, "resource", resource);
    const violations = new Violations();
    if (!denyPolicy) violations.add("deny_policy", "is required");
    await compileInTurns(denyPolicy?.rules.map((r) => r.denialCondition?.expression) ?? []);
    const rules = canonicalDenyRules(denyPolicy?.rules ?? [], this.schema, violations, "deny_policy.rules");
    violations.throwIfAny();
    const etag = denyPolicy!.etag;
    const decide = (stored: DenyPolicy) => {
      if (etag.length > 0 && !sameEtag(etag, stored.etag)) throw staleEtag("deny policy");
      return create(DenyPolicySchema, { rules });
    };
    return fromStore(updateDenyPolicy(this.store, resource, decide, actor));
  }

  async delete({ resource, etag }: DeleteDenyPolicyRequest, actor: Actor): Promise<{ etag: Uint8Array; sequence: bigint }> {
    requireResourceName(this.schema, "resource", resource);
    const decide = (stored: DenyPolicy) => {
      if (etag.length > 0 && !sameEtag(etag, stored.etag)) throw staleEtag("deny policy");
      return undefined;
    };
    const deleted = await fromStore(updateDenyPolicy(this.store, resource, decide, actor));
    return { etag: deleted.etag, sequence: BigInt(this.store.writtenSequence) };
  }
}
