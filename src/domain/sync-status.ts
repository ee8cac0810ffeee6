// Sync status, computed from the consumers' acknowledgements whenever a policy is read (never stored, never
// memoised with the policy: it changes when a consumer acknowledges, while the policy does not).
//  - a consumer covers a resource when the resource is in its subtree (or it has none) and of one of its types (or it
//    names none): consumer-index.ts finds those;
//  - for one consumer: FAILED when it reported a failure for the policy's current revision (a failure of an older
//    revision no longer counts), else SUCCESS when it acknowledged the revision's sequence, else PENDING;
//  - overall: FAILED when any covering consumer failed, else PENDING when any has not acknowledged, else SUCCESS —
//    also when no consumer covers the resource: there is nothing to deliver.
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import type { ConsumerFailure, StoredConsumer } from "../store/store.js";

export interface ConsumerDelivery {
  consumer: StoredConsumer;
  status: SyncStatus;
  /** For FAILED: the failure. */
  failure?: ConsumerFailure;
}

/**
 * One consumer's delivery of the revision written at `revision` of a resource's policy; `failure` is its unresolved
 * failure for that resource, if any.
 */
export function deliveryOf(consumer: StoredConsumer, failure: ConsumerFailure | undefined, revision: number): ConsumerDelivery {
  if (failure && failure.seq >= revision) return { consumer, status: SyncStatus.FAILED, failure };
  return { consumer, status: consumer.acknowledgedSeq >= revision ? SyncStatus.SUCCESS : SyncStatus.PENDING };
}

export function overallStatus(deliveries: readonly ConsumerDelivery[]): SyncStatus {
  if (deliveries.some((d) => d.status === SyncStatus.FAILED)) return SyncStatus.FAILED;
  if (deliveries.some((d) => d.status === SyncStatus.PENDING)) return SyncStatus.PENDING;
  return SyncStatus.SUCCESS;
}
