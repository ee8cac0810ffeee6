// The policy facade the RPC handlers call: validate, read the stored state, decide inside the store's write transaction.
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import type {
  DeletePolicyRequest,
  EffectivePolicy,
  GetPolicyRequest,
  ListPoliciesRequest,
  LookupEffectivePolicyRequest,
  ResourcePolicy,
  SetPolicyRequest,
} from "../../gen/policy/v1/policy_service_pb.js";
import { Violations, notFound, quoted, staleEtag } from "../errors.js";
import type { Actor, Store, StoredPolicy } from "../store/store.js";
import { requireResourceName, typeOfName } from "./names.js";
import { EffectivePolicies, resourcePolicy } from "./effective-policy.js";
import type { PageTokens } from "./page-token.js";
import { fromStore } from "./store-errors.js";
import { checkRequestedVersion, policyForVersion } from "./policy-read.js";
import { checkPolicyWrite, decidePolicyWrite } from "./policy-write.js";
import { sameEtag } from "./etag.js";
import type { ResourceSchema } from "./schema/schema.js";


export interface PolicyPage {
  resourcePolicies: ResourcePolicy[];
  nextPageToken: string;
}

export class Policies {
  private readonly effectivePolicies = new EffectivePolicies();

  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly pageTokens: PageTokens,
  ) {}

  async get({ resource, options }: GetPolicyRequest): Promise<Policy> {
    const requestedVersion = options?.requestedPolicyVersion ?? 0;
    checkRequestedVersion(requestedVersion, "options.requested_policy_version");
    requireResourceName(this.schema, "resource", resource);
    const stored = await this.store.getPolicy(resource);
    if (!stored) throw notFound(resource);
    return policyForVersion(stored.policy, requestedVersion);
  }

  async set({ resource, policy, updateMask }: SetPolicyRequest, actor: Actor): Promise<Policy> {
    const type = requireResourceName(this.schema, "resource", resource);
    // Validated (conditions compiled) before the write transaction, which only compares etags and merges.
    const checked = checkPolicyWrite(type, policy, updateMask);
    const decide = (stored: StoredPolicy) => decidePolicyWrite(checked, stored.policy).policy;
    return fromStore(this.store.updatePolicy(resource, decide, actor));
  }

  async lookupEffective({ resource, options }: LookupEffectivePolicyRequest): Promise<EffectivePolicy> {
    const requestedVersion = options?.requestedPolicyVersion ?? 0;
    requireResourceName(this.schema, "resource", resource);
    checkRequestedVersion(requestedVersion, "options.requested_policy_version");
    const chain = await this.store.ancestry(resource);
    if (!chain) throw notFound(resource);
    return this.effectivePolicies.of(resource, chain, requestedVersion);
  }

  async list({ resourceType, parent, pageSize, pageToken }: ListPoliciesRequest): Promise<PolicyPage> {
    const violations = new Violations();
    if (resourceType === "") violations.add("resource_type", `is required; one of ${[...this.schema.types.keys()].join(", ")}`);
    else if (!this.schema.types.has(resourceType)) {
      violations.add("resource_type", `unknown type ${quoted(resourceType)}; one of ${[...this.schema.types.keys()].join(", ")}`);
    }
    if (parent !== "") {
      const parentType = typeOfName(this.schema, parent);
      if (typeof parentType === "string") violations.add("parent", parentType);
    }
    violations.throwIfAny();
    const filter = JSON.stringify(["ListPolicies", resourceType, parent]);
    const page = await this.pageTokens.page(
      { pageSize, pageToken },
      filter,
      async (afterCursor, limit) => {
        if (parent !== "" && !(await this.store.getResource(parent))) throw notFound(parent);
        return this.store.listPolicies({ type: resourceType, beneath: parent || undefined, afterCursor, limit });
      },
      (row) => row.cursor,
    );
    return {
      // Listed policies are shown as stored (version 3 when conditional): a listing is not written back.
      resourcePolicies: page.items.map((row) => resourcePolicy(row, 3)),
      nextPageToken: page.nextPageToken,
    };
  }

  /** Removes the policy; returns the etag of the (now empty) policy and the sequence of the delete. */
  async delete({ resource, etag }: DeletePolicyRequest, actor: Actor): Promise<{ etag: Uint8Array; sequence: bigint }> {
    requireResourceName(this.schema, "resource", resource);
    const decide = (stored: StoredPolicy) => {
      if (etag.length > 0 && !sameEtag(etag, stored.policy.etag)) throw staleEtag("policy");
      return undefined;
    };
    const deleted = await fromStore(this.store.updatePolicy(resource, decide, actor));
    return { etag: deleted.etag, sequence: BigInt(this.store.writtenSequence) };
  }
}
