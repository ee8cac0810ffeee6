// The effective policy of a resource: the union of its own policy and its ancestors' and of the shared policies bound
// to any of them (allow semantics), and the deny rules of the same chain and shared policies with their origins.
import { create } from "@bufbuild/protobuf";
import { PolicySchema, type Binding } from "../../gen/policy/v1/policy_pb.js";
import type { SharedPolicy } from "../../gen/policy/v1/shared_policy_pb.js";
import {
  BoundSharedPolicySchema,
  EffectiveBindingSchema,
  EffectiveDenyRuleSchema,
  EffectivePolicySchema,
  ResourcePolicySchema,
  type EffectivePolicy,
  type ResourcePolicy,
} from "../../gen/policy/v1/policy_service_pb.js";
import { deepFreeze, isDeepFrozen } from "../frozen-value.js";
import { RecentCache } from "../recent-cache.js";
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

/**
 * `chain` is the resource and its ancestors, from the resource up to the root; `partial` when ancestors the caller
 * may not read were left out of it.
 */
export function effectivePolicy(
  resource: string,
  chain: readonly StoredPolicy[],
  requestedVersion: number,
  partial = false,
): EffectivePolicy {
  const effective = create(EffectivePolicySchema, { resource, partial });
  // Link by link, from the resource up: its own bindings and deny rules, then those of the shared policies bound to it.
  for (const link of chain) {
    const at = link.resource.name;
    if (link.policy.bindings.length > 0) {
      const listed = resourcePolicy(link, requestedVersion);
      effective.policies.push(listed);
      for (const binding of listed.policy!.bindings) effective.bindings.push(create(EffectiveBindingSchema, { binding, resource: at }));
    }
    link.deny?.rules.forEach((rule, ruleIndex) => {
      effective.denyRules.push(create(EffectiveDenyRuleSchema, { rule, resource: at, ruleIndex }));
    });
    for (const shared of link.shared ?? []) {
      effective.sharedPolicies.push(create(BoundSharedPolicySchema, { sharedPolicy: shared, resource: at }));
      for (const binding of sharedBindings(shared, requestedVersion)) {
        effective.bindings.push(create(EffectiveBindingSchema, { binding, resource: at, sharedPolicy: shared.name }));
      }
      shared.denyRules.forEach((rule, ruleIndex) => {
        effective.denyRules.push(create(EffectiveDenyRuleSchema, { rule, resource: at, ruleIndex, sharedPolicy: shared.name }));
      });
    }
  }
  return effective;
}

const presentedShared = [new WeakMap<SharedPolicy, readonly Binding[]>(), new WeakMap<SharedPolicy, readonly Binding[]>()];

/**
 * A shared policy's bindings presented for the requested version, as a policy's are (conditions hidden below 3);
 * memoised per frozen value, as policyForVersion is for policies.
 */
function sharedBindings(shared: SharedPolicy, requestedVersion: number): readonly Binding[] {
  const memo = presentedShared[requestedVersion === 3 ? 1 : 0]!;
  let bindings = memo.get(shared);
  if (!bindings) {
    bindings = policyForVersion(create(PolicySchema, { version: 3, bindings: shared.bindings }), requestedVersion).bindings;
    if (isDeepFrozen(shared)) memo.set(shared, bindings);
  }
  return bindings;
}

/** Memory for memoised effective policies (their encoded form is kept with them on the gRPC port). */
const MEMO_BYTES = 16 * 1024 * 1024;

interface Memo {
  chain: readonly StoredPolicy[];
  effective: EffectivePolicy;
}

/**
 * Effective policies, memoised: the last one shown for a resource and version. The read cache hands out the same
 * frozen link objects until something on the chain changes, so the same links mean the same answer: frozen, and
 * encoded once by the gRPC port.
 */
export class EffectivePolicies {
  private readonly memo = new RecentCache<string, Memo>(MEMO_BYTES);

  of(resource: string, chain: readonly StoredPolicy[], requestedVersion: number, partial = false): EffectivePolicy {
    // Links that are not frozen could change under a memo (a store without a cache): compute every time.
    if (!chain.every(isDeepFrozen)) return effectivePolicy(resource, chain, requestedVersion, partial);
    const key = `${requestedVersion === 3 ? 3 : 1}${partial ? "p" : ""} ${resource}`;
    const memo = this.memo.get(key);
    if (memo && sameLinks(memo.chain, chain)) return memo.effective;
    const effective = deepFreeze(effectivePolicy(resource, chain, requestedVersion, partial));
    // About 200 bytes per binding or deny rule shown: the wrappers around the shared ones, and their encoding.
    this.memo.set(key, { chain, effective }, 500 + 200 * (effective.bindings.length + effective.denyRules.length));
    return effective;
  }
}

function sameLinks(a: readonly StoredPolicy[], b: readonly StoredPolicy[]): boolean {
  return a.length === b.length && a.every((link, i) => link === b[i]);
}
