// The change log's retention. The change log is also the audit log and Watch's history: pruning it shortens all
// three (a Watch resume from before the oldest kept row fails with OUT_OF_RANGE). Default: keep everything.
import type { Store } from "../store/store.js";

export interface RetentionPolicy {
  /** Remove rows older than this. */
  maxAgeMs?: number;
  /** Keep at most this many of the newest rows. */
  keepLast?: number;
}

/** Applies `policy` once; returns how many rows were removed. The newest row is always kept. */
export function pruneChangeLog(store: Pick<Store, "pruneChanges">, policy: RetentionPolicy, nowMs = Date.now()): Promise<number> {
  return store.pruneChanges({
    ...(policy.maxAgeMs === undefined ? {} : { beforeMs: nowMs - policy.maxAgeMs }),
    ...(policy.keepLast === undefined ? {} : { keepLast: policy.keepLast }),
  });
}
