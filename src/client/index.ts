// The TypeScript SDK of the policy service.
export {
  bearerToken,
  createPolicyClient,
  type PolicyClient,
  type PolicyClientOptions,
  type PolicyProtocol,
} from "./client.js";
export {
  modifyPolicy,
  MODIFY_POLICY_DEFAULTS,
  type ModifyPolicyOptions,
  type PolicyModifier,
} from "./modify-policy.js";
export * from "../../gen/policy/v1/policy_pb.js";
export * from "../../gen/policy/v1/policy_service_pb.js";
export * from "../../gen/policy/v1/resource_pb.js";
export * from "../../gen/policy/v1/resource_service_pb.js";
export * from "../../gen/policy/v1/access_service_pb.js";
export * from "../../gen/policy/v1/watch_service_pb.js";
export * from "../../gen/policy/v1/snapshot_service_pb.js";
export * from "../../gen/policy/v1/sync_service_pb.js";
export * from "../../gen/policy/v1/audit_service_pb.js";
export * from "../../gen/policy/v1/shared_policy_pb.js";
export * from "../../gen/policy/v1/shared_policy_service_pb.js";
export { traceContext } from "./trace-context.js";
export { watch, type WatchEvent, type WatchOptions } from "./watch.js";
export { runConsumer, type ConsumerOptions } from "./consumer.js";
export {
  createPolicyMirror,
  type MirrorCheckOptions,
  type MirrorEvent,
  type MirrorMetrics,
  type PolicyMirror,
  type PolicyMirrorOptions,
} from "./mirror/mirror.js";
export { tokenSequence, type ConsistencyToken } from "./mirror/consistency-token.js";
export {
  decide,
  holds,
  type Checker,
  type EnforceOptions,
  type Requirement,
  type Verdict,
} from "./enforce/decision.js";
export { enforceInterceptor, type EnforcedCall } from "./enforce/interceptor.js";
export { enforceHttp, type HttpRequest, type HttpResponse, type Next } from "./enforce/http-middleware.js";
export {
  ESTATE_MANIFEST,
  EstateFileError,
  estateFiles,
  parseEstateFiles,
  readEstateDir,
  writeEstateDir,
  type Estate,
  type EstateResource,
  type EstateRole,
  type EstateSharedPolicy,
} from "./estate.js";
export { exportSubtree, readSubtree, estateOf, type SubtreeState, type ReadOptions } from "./subtree-state.js";
export { bindingDiff, describeTarget, formatPlan, planSummary } from "./plan-format.js";
export {
  ApplyAborted,
  applyPlan,
  planApply,
  type ApplyOptions,
  type ApplyResult,
  type Plan,
  type PlanOptions,
  type PlannedChange,
} from "./plan-apply.js";
