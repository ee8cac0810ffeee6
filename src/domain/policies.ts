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
import { Violations, notFound, staleEtag } from "../errors.js";
import type { Actor, Store, StoredPolicy } from "../store/store.js";
import { requireResourceName, typeOfName } from "./names.js";
import { EffectivePolicies, resourcePolicy } from "./effective-policy.js";
import type { PageTokens } from "./page-token.js";
import { fromStore } from "./store-errors.js";
import { checkRequestedVersion, policyForVersion } from "./policy-read.js";
import { planPolicyWrite } from "./policy-write.js";
import { sameEtag } from "./etag.js";
import { typesGranting, type ResourceSchema } from "./schema/schema.js";
import { isCustomRoleName } from "./custom-roles.js";
import type { GrantableCustomRoles } from "./policy-rules.js";


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
    const customRoles = await this.customRolesFor(resource, policy);
    const decide = (stored: StoredPolicy) => planPolicyWrite(type, policy, updateMask, stored.policy, customRoles).policy;
    return fromStore(this.store.updatePolicy(resource, decide, actor));
  }

  /**
   * The custom roles of the resource's organization, when the policy names one: read before the write (a role deleted
   * meanwhile is harmless, its binding grants nothing; checks only honour roles of the checked resource's own root).
   */
  private async customRolesFor(resource: string, policy: Policy | undefined): Promise<GrantableCustomRoles | undefined> {
    if (!policy?.bindings.some((b) => isCustomRoleName(b.role))) return undefined;
    const roles = (await this.store.ancestry(resource))?.at(-1)?.roles ?? [];
    return new Map(roles.map((role) => [role.name, typesGranting(this.schema, role.includedPermissions)]));
  }

  /** `readChain` lets a caller that has already read the resource's chain hand it over. */
  async lookupEffective(
    { resource, options }: LookupEffectivePolicyRequest,
    readChain = () => this.store.ancestry(resource),
  ): Promise<EffectivePolicy> {
    const requestedVersion = options?.requestedPolicyVersion ?? 0;
    requireResourceName(this.schema, "resource", resource);
    checkRequestedVersion(requestedVersion, "options.requested_policy_version");
    const chain = await readChain();
    if (!chain) throw notFound(resource);
    return this.effectivePolicies.of(resource, chain, requestedVersion);
  }

  async list({ resourceType, parent, pageSize, pageToken }: ListPoliciesRequest): Promise<PolicyPage> {
    const violations = new Violations();
    if (resourceType === "") violations.add("resource_type", `is required; one of ${[...this.schema.types.keys()].join(", ")}`);
    else if (!this.schema.types.has(resourceType)) {
      violations.add("resource_type", `unknown type "${resourceType}"; one of ${[...this.schema.types.keys()].join(", ")}`);
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
