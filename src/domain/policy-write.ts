// What SetPolicy stores: the requested policy merged into the stored one per update_mask, validated and canonical.
import { create } from "@bufbuild/protobuf";
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import { PolicySchema, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { ServiceError, Violations, quoted, staleEtag } from "../service-error.js";
import {
  ACCEPTED_VERSIONS,
  bindingKey,
  canonicalAuditConfigs,
  type GrantableCustomRoles,
  canonicalBindings,
  hasCondition,
} from "./binding-validation.js";
import { sameEtag } from "../etag.js";
import type { ResourceType } from "../schema/schema.js";

const DEFAULT_MASK = ["bindings", "etag"];
const MASKABLE = ["bindings", "etag", "audit_configs", "version", "iam_owned"];

export interface PolicyWrite {
  /** The canonical policy to store (no etag). */
  policy: Policy;
  /** Whether the caller made the write conditional on an etag. */
  conditional: boolean;
}

/** A SetPolicy request validated on its own, before the stored policy is read. */
export interface CheckedPolicyWrite {
  paths: readonly string[];
  policy: Policy;
  /** The canonical bindings, when the mask names them. */
  bindings: Policy["bindings"] | undefined;
  /** The canonical audit configs, when the mask names them. */
  auditConfigs: Policy["auditConfigs"] | undefined;
}

/**
 * Validates a SetPolicy request by itself (throws INVALID_ARGUMENT). Conditions are compiled here, outside the store's
 * write transaction: their cost is bounded, but no user expression should run while the database is locked.
 */
export function checkPolicyWrite(
  type: ResourceType,
  requested: Policy | undefined,
  updateMask: FieldMask | undefined,
  customRoles?: GrantableCustomRoles,
): CheckedPolicyWrite {
  const violations = new Violations();
  const paths = updateMask && updateMask.paths.length > 0 ? updateMask.paths : DEFAULT_MASK;
  paths.forEach((path, i) => {
    if (!MASKABLE.includes(path)) {
      violations.add(`update_mask.paths[${i}]`, `unknown path ${quoted(path)}; allowed: ${MASKABLE.join(", ")}`);
    }
  });
  if (!requested) {
    violations.add("policy", "is required");
    violations.throwIfAny();
  }
  const policy = requested!;
  if (!ACCEPTED_VERSIONS.includes(policy.version)) {
    violations.add("policy.version", `must be 0, 1 or 3 (got ${policy.version})`);
  }
  const bindings = paths.includes("bindings")
    ? canonicalBindings(policy.bindings, type, policy.version, violations, "policy.bindings", customRoles)
    : undefined;
  const auditConfigs = paths.includes("audit_configs")
    ? canonicalAuditConfigs(policy.auditConfigs, violations, "policy.audit_configs")
    : undefined;
  violations.throwIfAny();
  return { paths, policy, bindings, auditConfigs };
}

/** What to store for a checked request given the stored policy; throws ABORTED or FAILED_PRECONDITION. No CEL runs. */
export function decidePolicyWrite(checked: CheckedPolicyWrite, stored: Policy): PolicyWrite {
  const { paths, policy } = checked;
  const bindings = checked.bindings ?? stored.bindings;
  const auditConfigs = checked.auditConfigs ?? stored.auditConfigs;
  const conditional = paths.includes("etag") && policy.etag.length > 0;
  if (conditional && !sameEtag(policy.etag, stored.etag)) throw staleEtag("policy");
  if (policy.version < 3) refuseRemovalsBelowVersion3(stored, bindings);
  if (!conditional) refuseDroppedConditions(stored, bindings);

  const iamOwned = paths.includes("iam_owned") ? policy.iamOwned : stored.iamOwned;
  return {
    policy: create(PolicySchema, {
      version: bindings.some(hasCondition) ? 3 : 1,
      bindings,
      auditConfigs,
      iamOwned,
    }),
    conditional,
  };
}

/** Validates a SetPolicy request against the stored policy; throws INVALID_ARGUMENT, ABORTED or FAILED_PRECONDITION. */
export function planPolicyWrite(
  type: ResourceType,
  requested: Policy | undefined,
  updateMask: FieldMask | undefined,
  stored: Policy,
  customRoles?: GrantableCustomRoles,
): PolicyWrite {
  return decidePolicyWrite(checkPolicyWrite(type, requested, updateMask, customRoles), stored);
}

/**
 * IAM: "Any operation that affects conditional role bindings must specify version 3 … removing any role binding, with
 * or without a condition, from a policy that includes conditions" — with or without an etag.
 */
function refuseRemovalsBelowVersion3(stored: Policy, next: Policy["bindings"]): void {
  if (!stored.bindings.some(hasCondition)) return;
  const kept = new Set(next.map((b) => bindingKey(b.role, b.condition)));
  const removed = stored.bindings.filter((b) => !kept.has(bindingKey(b.role, b.condition)));
  if (removed.length > 0) {
    throw new ServiceError(
      "failed_precondition",
      `the stored policy has conditional role bindings, and this write would remove ${removed.length} binding(s) ` +
        `(e.g. ${removed[0]!.role}); set policy.version to 3 (after reading it with requested_policy_version 3) to change it`,
    );
  }
}

/** IAM silently drops the conditions of a version-3 policy overwritten by an unaware client; here that is refused. */
function refuseDroppedConditions(stored: Policy, next: Policy["bindings"]): void {
  const kept = new Set(next.map((b) => bindingKey(b.role, b.condition)));
  const dropped = stored.bindings.filter((b) => hasCondition(b) && !kept.has(bindingKey(b.role, b.condition)));
  if (dropped.length > 0) {
    throw new ServiceError(
      "failed_precondition",
      `this write would drop ${dropped.length} conditional binding(s) of the stored version-3 policy ` +
        `(e.g. ${dropped[0]!.role} if ${quoted(dropped[0]!.condition!.expression)}); read the policy with ` +
        "requested_policy_version 3 and send its etag with the write to confirm",
    );
  }
}
