// The effective policy of a resource: the union of its own policy and its ancestors' (allow semantics).
import { create } from "@bufbuild/protobuf";
import {
  EffectiveBindingSchema,
  EffectivePolicySchema,
  ResourcePolicySchema,
  type EffectivePolicy,
  type ResourcePolicy,
} from "../../gen/policy/v1/policy_service_pb.js";
import type { StoredPolicy } from "../store/store.js";
import { policyForVersion } from "./policy-read.js";

/** A stored policy as a listing or lookup returns it, presented for the requested version. */
export function resourcePolicy(stored: StoredPolicy, requestedVersion: number): ResourcePolicy {
  return create(ResourcePolicySchema, {
    resource: stored.resource.name,
    resourceType: stored.resource.type,
    policy: policyForVersion(stored.policy, requestedVersion),
  });
}

/** `chain` is the resource and its ancestors, from the resource up to the root. */
export function effectivePolicy(resource: string, chain: readonly StoredPolicy[], requestedVersion: number): EffectivePolicy {
  const policies = chain
    .filter((link) => link.policy.bindings.length > 0)
    .map((link) => resourcePolicy(link, requestedVersion));
  return create(EffectivePolicySchema, {
    resource,
    policies,
    bindings: policies.flatMap((p) =>
      p.policy!.bindings.map((binding) => create(EffectiveBindingSchema, { binding, resource: p.resource })),
    ),
  });
}
