// The read cache: small decorators over the Store contract, each with one job (as SpiceDB's datastore proxies), put
// together here, the one place that builds it. From the outside in:
//   freshness (cache/freshness.ts)  what may still be served: evicts after this process's writes, and once a turn asks
//                                   the store what other processes changed; it tells every memo below
//   list memo (cache/list-memo.ts)  pages of ListPolicies, until the next eviction, made of the policy memo's entries
//   policy memo (cache/policy-memo.ts) decoded chain links for getPolicy and ancestry, frozen and shared
// Calls none of them change go straight to the store (ForwardingStore).
import type { Store } from "./store.js";
import { Freshness } from "./cache/freshness.js";
import { ListMemo } from "./cache/list-memo.js";
import { PolicyMemo } from "./cache/policy-memo.js";

/** The default budget of decoded policies kept in memory (an estimate of their heap size): --cache-mb's default. */
export const DEFAULT_CACHE_MB = 64;

/** `store` behind the read cache, with `cacheBytes` for the policy memo. */
export function cachingStore(store: Store, cacheBytes = DEFAULT_CACHE_MB * 1024 * 1024): Store {
  const policies = new PolicyMemo(store, cacheBytes);
  const lists = new ListMemo(policies, policies);
  return new Freshness(lists, [policies, lists]);
}
