// What GetPolicy returns for a requested policy version (IAM's rules for version 1 readers of version 3 policies).
import { create, toBinary } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";
import { BindingSchema, ExprSchema, PolicySchema, type Binding, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { deepFreeze, isDeepFrozen } from "../frozen-value.js";
import { invalidArgument } from "../service-error.js";
import { ACCEPTED_VERSIONS, hasCondition } from "./binding-validation.js";

/** Throws INVALID_ARGUMENT unless `version` is 0, 1 or 3. */
export function checkRequestedVersion(version: number, field: string): void {
  if (!ACCEPTED_VERSIONS.includes(version)) {
    throw invalidArgument([{ field, description: `must be 0, 1 or 3 (got ${version})` }]);
  }
}

/**
 * The policy as a reader of `requestedVersion` sees it: below 3, each conditional binding loses its condition and its
 * role becomes `{role}_withcond_{hash}`, so that it cannot be written back by accident.
 */
export function policyForVersion(stored: Policy, requestedVersion: number): Policy {
  // A frozen policy (the read cache's) does not change: present it once per version and freeze the answer.
  if (!isDeepFrozen(stored)) return present(stored, requestedVersion);
  const memo = requestedVersion === 3 ? presentedV3 : presentedV1;
  let presented = memo.get(stored);
  if (!presented) {
    presented = deepFreeze(present(stored, requestedVersion));
    memo.set(stored, presented);
  }
  return presented;
}

const presentedV1 = new WeakMap<Policy, Policy>();
const presentedV3 = new WeakMap<Policy, Policy>();

function present(stored: Policy, requestedVersion: number): Policy {
  if (!stored.bindings.some(hasCondition)) return { ...stored, version: 1 };
  if (requestedVersion === 3) return { ...stored, version: 3 };
  return create(PolicySchema, { ...stored, version: 1, bindings: stored.bindings.map(withoutCondition) });
}

function withoutCondition(binding: Binding): Binding {
  if (!binding.condition) return binding;
  const hash = createHash("sha256").update(toBinary(ExprSchema, binding.condition)).digest("hex").slice(0, 20);
  return create(BindingSchema, { role: `${binding.role}_withcond_${hash}`, members: binding.members });
}
