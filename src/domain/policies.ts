// The policy facade the RPC handlers call: validate, read the stored state, decide, write with compare-and-set.
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import type { EffectivePolicy, ResourcePolicy } from "../../gen/policy/v1/policy_service_pb.js";
import { Violations, notFound, staleEtag } from "../errors.js";
import type { Actor, Store, StoredPolicy } from "../store/store.js";
import { requireResourceName, typeOfName } from "./names.js";
import { EffectivePolicies, resourcePolicy } from "./effective-policy.js";
import { PageTokens, pageSize } from "./page-token.js";
import { checkRequestedVersion, policyForVersion } from "./policy-read.js";
import { planPolicyWrite } from "./policy-write.js";
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

  async get(resource: string, requestedVersion: number): Promise<Policy> {
    checkRequestedVersion(requestedVersion, "options.requested_policy_version");
    const stored = await this.read(resource, "resource");
    return policyForVersion(stored.policy, requestedVersion);
  }

  async set(resource: string, policy: Policy | undefined, updateMask: FieldMask | undefined, actor: Actor): Promise<Policy> {
    const type = requireResourceName(this.schema, "resource", resource);
    return this.store.updatePolicy(resource, (stored) => planPolicyWrite(type, policy, updateMask, stored.policy).policy, actor);
  }

  /** `readChain` lets a caller that has already read the resource's chain hand it over. */
  async lookupEffective(
    resource: string,
    requestedVersion: number,
    readChain = () => this.store.ancestry(resource),
  ): Promise<EffectivePolicy> {
    requireResourceName(this.schema, "resource", resource);
    checkRequestedVersion(requestedVersion, "options.requested_policy_version");
    const chain = await readChain();
    if (!chain) throw notFound(resource);
    return this.effectivePolicies.of(resource, chain, requestedVersion);
  }

  async list(resourceType: string, parent: string, requestedPageSize: number, pageToken: string): Promise<PolicyPage> {
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
    const limit = pageSize(requestedPageSize);
    const filter = JSON.stringify(["ListPolicies", resourceType, parent]);
    const afterCursor = this.pageTokens.decode(pageToken, filter);
    if (parent !== "" && !(await this.store.getResource(parent))) throw notFound(parent);
    const rows = await this.store.listPolicies({
      type: resourceType,
      beneath: parent || undefined,
      afterCursor,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      // Listed policies are shown as stored (version 3 when conditional): a listing is not written back.
      resourcePolicies: page.map((row) => resourcePolicy(row, 3)),
      nextPageToken: rows.length > limit ? this.pageTokens.encode(filter, page.at(-1)!.cursor) : "",
    };
  }

  /** Removes the policy; returns the etag of the (now empty) policy and the sequence of the delete. */
  async delete(resource: string, etag: Uint8Array, actor: Actor): Promise<{ etag: Uint8Array; sequence: bigint }> {
    requireResourceName(this.schema, "resource", resource);
    const deleted = await this.store.updatePolicy(
      resource,
      (stored) => {
        if (etag.length > 0 && !sameEtag(etag, stored.policy.etag)) throw staleEtag("policy");
        return undefined;
      },
      actor,
    );
    return { etag: deleted.etag, sequence: BigInt(this.store.writtenSequence) };
  }

  private async read(resource: string, field: string): Promise<StoredPolicy> {
    requireResourceName(this.schema, field, resource);
    const stored = await this.store.getPolicy(resource);
    if (!stored) throw notFound(resource);
    return stored;
  }
}
