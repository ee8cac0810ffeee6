// The policy memo (one job of the read cache, caching-store.ts): decoded policies with their resources, by resource
// name, for GetPolicy, LookupEffectivePolicy and access checks (getPolicy, ancestry). Entries are shared values
// (frozen-value.ts): frozen, handed to every reader, and the same object until the resource or its policy changes.
// It never decides what is stale: the freshness decorator above it (freshness.ts) calls evict. A link holds the shared
// policies bound to its resource: evicting a shared policy's name evicts every cached link that holds it (found
// through `holders`); a binding's change is logged against its target.
import { RecentCache } from "../../recent-cache.js";
import { deepFreeze } from "../../frozen-value.js";
import { inChildSpan } from "../../tracing/spans.js";
import { ForwardingStore } from "../forwarding-store.js";
import { estimatedBytes, type Store, type StoreStats, type StoredPolicy } from "../store.js";
import type { Evictable } from "./evictable.js";
import { sameRevision } from "./policy-entry.js";

/** The span attribute of a cached read: whether the cache answered it. */
export const HIT = "policy.cache.hit";

/** The memo's entries as another memo uses them (the list memo hands them out in its pages). */
export interface PolicyEntries {
  /** The cached entry of `name`, if any (a use: it stays). */
  peek(name: string): StoredPolicy | undefined;
  /** Reads `name` from the store and keeps it, as getPolicy does on a miss. */
  read(name: string): Promise<StoredPolicy | undefined>;
}

export class PolicyMemo extends ForwardingStore implements Evictable, PolicyEntries {
  private readonly cache: RecentCache<string, StoredPolicy>;
  /**
   * By shared-policy name: the links cached with it (some may have left the cache since; evicting them again is
   * harmless). A change to the shared policy evicts them all, so no link serves an old copy of it.
   */
  private readonly holders = new Map<string, Set<string>>();
  /** Bumped by every eviction: a read that started before one must not cache what it read. */
  private generation = 0;

  constructor(inner: Store, cacheBytes: number) {
    super(inner);
    this.cache = new RecentCache(cacheBytes);
  }

  // In a traced call, each cached read is a span that says whether the cache answered (policy.cache.hit); a miss
  // shows the store's read beneath it.
  override getPolicy(resource: string): Promise<StoredPolicy | undefined> {
    return inChildSpan("cache getPolicy", undefined, async (span) => {
      const cached = this.cache.get(resource);
      span?.setAttribute(HIT, cached !== undefined);
      if (cached) return cached;
      return this.read(resource);
    });
  }

  override ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    return inChildSpan("cache ancestry", undefined, async (span) => {
      const chain: StoredPolicy[] = [];
      for (let name = resource; name !== ""; ) {
        const link = this.cache.get(name);
        if (!link) {
          span?.setAttribute(HIT, false);
          return this.readAncestry(resource);
        }
        chain.push(link);
        name = link.resource.parent;
      }
      span?.setAttribute(HIT, true);
      return chain;
    });
  }

  peek(name: string): StoredPolicy | undefined {
    return this.cache.get(name);
  }

  async read(name: string): Promise<StoredPolicy | undefined> {
    const generation = this.generation;
    const stored = await this.inner.getPolicy(name);
    return stored && this.remember(stored, generation);
  }

  private async readAncestry(resource: string): Promise<StoredPolicy[] | undefined> {
    const generation = this.generation;
    const chain = await this.inner.ancestry(resource);
    return chain?.map((link) => this.remember(link, generation));
  }

  /**
   * Shares a stored policy and keeps it, unless something was evicted while it was read (it may be older). A link
   * that is cached already, unchanged, stays the same object, so what was derived from it stays valid.
   */
  private remember(stored: StoredPolicy, generation: number): StoredPolicy {
    const cached = this.cache.get(stored.resource.name);
    if (cached && sameRevision(cached, stored)) return cached;
    const value = deepFreeze(stored);
    if (generation === this.generation) {
      this.cache.set(stored.resource.name, value, estimatedBytes(stored));
      for (const shared of stored.shared ?? []) {
        let names = this.holders.get(shared.name);
        if (!names) this.holders.set(shared.name, (names = new Set()));
        names.add(stored.resource.name);
      }
    }
    return value;
  }

  /** Evicts the link of `name` and, when it is a shared policy, every link that holds it. */
  evict(name: string): void {
    this.generation++;
    this.cache.delete(name);
    const holders = this.holders.get(name);
    if (holders) {
      this.holders.delete(name);
      for (const holder of holders) this.cache.delete(holder);
    }
  }

  evictAll(): void {
    this.generation++;
    this.cache.clear();
    this.holders.clear();
  }

  override async stats(): Promise<StoreStats> {
    return { ...(await this.inner.stats()), cacheEntries: this.cache.size, cacheBytes: this.cache.weight };
  }
}
