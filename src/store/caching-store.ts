// A read cache over any store, as a decorator (the shape of SpiceDB's caching datastore proxy): decoded policies with
// their resources, by resource name, for GetPolicy, LookupEffectivePolicy and access checks. Cached entries are shared
// values (frozen-value.ts): frozen, handed to every reader, and the same object until the resource or its policy
// changes. Reads are never stale: this store's writes evict what they change, and other instances' commits (other
// processes or replicas on the same database) are found through the inner store's changesSince before a cached read.
// A link holds the shared policies bound to its resource: a change logged against a shared policy's name evicts
// every cached link that holds it (found through `holders`), a binding's change is logged against its target.
import type { Span } from "@opentelemetry/api";
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { RecentCache } from "../recent-cache.js";
import { deepFreeze } from "../frozen-value.js";
import { inChildSpan } from "../tracing/spans.js";
import { etagSequence } from "../etag.js";
import { ForwardingStore } from "./forwarding-store.js";
import type {
  Actor,
  AttachedDocuments,
  DocumentRemoval,
  DocumentWrite,
  DocumentWriteOptions,
  LinkCount,
  StoredDocument,
  CreatedResource,
  HierarchyReader,
  ListedName,
  ListedPolicy,
  UnreadablePolicy,
  NewResourceWithPolicy,
  PolicyQuery,
  ResourceChanges,
  LinkKind,
  LinkState,
  StoredLink,
  Store,
  StoreStats,
  StoredPolicy,
} from "./store.js";

/** The span attribute of a cached read: whether the cache answered it. */
const HIT = "policy.cache.hit";

/** The default budget of decoded policies kept in memory (an estimate of their heap size): --cache-mb's default. */
export const DEFAULT_CACHE_MB = 64;
/** More changes than this since the last look: drop the whole cache instead of evicting them one by one. */
const MAX_CHANGES_TO_EVICT = 1000;
/** The rows of listed pages kept (references to cached policies, plus a cursor each). */
const MAX_LISTED_ROWS = 20_000;

// Calls it does not override go straight to the inner store (ForwardingStore): resources, documents, shared
// policies, the member index, the change log and consumers are read fresh, and a snapshot reads one state of the
// database, which no cache entry is known to hold.
export class CachingStore extends ForwardingStore {
  private readonly cache: RecentCache<string, StoredPolicy>;
  /**
   * By shared-policy name: the links cached with it (some may have left the cache since; evicting them again is
   * harmless). A change to the shared policy evicts them all, so no link serves an old copy of it.
   */
  private readonly holders = new Map<string, Set<string>>();
  /** The change-log sequence up to which every change is known to have been evicted. */
  private evictedThrough = 0;
  /** Bumped by every eviction: a read that started before one must not cache what it read. */
  private generation = 0;
  /**
   * Pages of policies as listed since the last eviction, by query (any change may add, remove or reorder a page's
   * rows, so every eviction drops them all): a page read again before anything changes costs no SQL. At most
   * MAX_LISTED_ROWS rows in all.
   */
  private readonly pages = new Map<string, readonly ListedPolicy[]>();
  private pagesGeneration = 0;
  private pagedRows = 0;
  /** This turn's freshness check, shared by every read of the turn (see fresh). */
  private check: Promise<void> | undefined;
  private readonly endTurn = () => {
    this.check = undefined;
  };
  private readonly endTurnAfterMicrotasks = () => process.nextTick(this.endTurn);

  constructor(inner: Store, cacheBytes = DEFAULT_CACHE_MB * 1024 * 1024) {
    super(inner);
    this.cache = new RecentCache(cacheBytes);
    this.evictedThrough = inner.writtenSequence;
  }

  override async latestSequence(): Promise<number> {
    await this.fresh();
    return Math.max(this.evictedThrough, this.inner.writtenSequence);
  }

  // In a traced call, each cached read is a span that says whether the cache answered (policy.cache.hit); a miss
  // shows the store's read beneath it.
  override getPolicy(resource: string): Promise<StoredPolicy | undefined> {
    return inChildSpan("cache getPolicy", undefined, async (span) => {
      await this.fresh();
      const cached = this.cache.get(resource);
      span?.setAttribute(HIT, cached !== undefined);
      if (cached) return cached;
      return this.readPolicy(resource, this.generation);
    });
  }

  override ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    return inChildSpan("cache ancestry", undefined, async (span) => {
      await this.fresh();
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

  /**
   * Evicts what other instances changed since the last look, so that a read made after their commit never sees the
   * state before it. One look serves the rest of this turn of the event loop (this macrotask, its ticks and its
   * microtasks): every request handled in it arrived before the look (socket data is only read in a new macrotask),
   * so it cannot follow a commit the look missed. The turn ends in a tick queued by a microtask queued now: Node runs
   * that tick only once the microtask queue has drained, so the calls of this turn that reach here after an await
   * share the look too, and it still ends before the next macrotask.
   */
  private fresh(): Promise<void> {
    if (!this.check) {
      this.check = this.look();
      queueMicrotask(this.endTurnAfterMicrotasks);
    }
    return this.check;
  }

  private async look(): Promise<void> {
    const { latest, changed } = await this.inner.changesSince(this.evictedThrough, MAX_CHANGES_TO_EVICT);
    if (changed === "many") this.evictAll();
    else for (const name of changed) this.evict(name);
    this.evictedThrough = Math.max(this.evictedThrough, latest);
  }

  /** Evicts the link of `name` and, when it is a shared policy, every link that holds it. */
  private evict(name: string): void {
    this.generation++;
    this.cache.delete(name);
    const holders = this.holders.get(name);
    if (holders) {
      this.holders.delete(name);
      for (const holder of holders) this.cache.delete(holder);
    }
  }

  private evictAll(): void {
    this.generation++;
    this.cache.clear();
    this.holders.clear();
  }

  /** Logged against the `to` end: its chain link lists the shared policies bound to it. */
  override async updateLink(
    kind: LinkKind,
    from: string,
    to: string,
    decide: (state: LinkState) => boolean,
    actor: Actor,
  ): Promise<StoredLink | undefined> {
    return this.evictingAfter([to], this.inner.updateLink(kind, from, to, decide, actor));
  }

  /**
   * A page of policies as the cache holds them (shared, so what is derived from them is memoised: the listed form,
   * its encoding): the inner store names the page with each policy's revision, the cache supplies each policy, and
   * a policy it lacks (or holds at another revision) is read and kept as GetPolicy reads it. The page itself is
   * kept until the next eviction (keepPage). The inner store's listing rows are never kept: they carry no deny rules
   * or roles.
   */
  override listPolicies(query: PolicyQuery & { namesOnly: true }): Promise<ListedName[]>;
  override listPolicies(query: PolicyQuery): Promise<readonly (ListedPolicy | UnreadablePolicy)[]>;
  override listPolicies(query: PolicyQuery & { namesOnly?: true }): Promise<ListedName[] | readonly (ListedPolicy | UnreadablePolicy)[]> {
    // Names are the inner store's to answer: the cache keeps policies, not listings of names.
    if (query.namesOnly) return this.inner.listPolicies({ ...query, namesOnly: true });
    return inChildSpan("cache listPolicies", undefined, (span) => this.listCachedPolicies(query, span));
  }

  private async listCachedPolicies(query: PolicyQuery, span: Span | undefined): Promise<readonly (ListedPolicy | UnreadablePolicy)[]> {
    await this.fresh();
    const generation = this.generation;
    const key = JSON.stringify([query.type, query.beneath, query.afterCursor, query.limit]);
    const kept = this.pagesGeneration === generation ? this.pages.get(key) : undefined;
    span?.setAttribute(HIT, kept !== undefined);
    if (kept) return kept;
    const names = await this.inner.listPolicies({ ...query, namesOnly: true });
    const listed: ListedPolicy[] = [];
    for (const { name, cursor, revision } of names) {
      let stored = this.cache.get(name);
      // Not cached, or older than the row (another process committed after this turn's freshness check): read it.
      if (!stored || etagSequence(stored.policy.etag) !== revision) {
        try {
          stored = await this.readPolicy(name, generation);
        } catch {
          // A row that does not decode (or a failed read): the store lists it as it can, marked or failing.
          return this.inner.listPolicies(query);
        }
      }
      // Changed again meanwhile, or gone: list as the store lists.
      if (!stored || etagSequence(stored.policy.etag) !== revision) return this.inner.listPolicies(query);
      listed.push({ ...stored, cursor });
    }
    this.keepPage(key, Object.freeze(listed), generation);
    return listed;
  }

  /** Keeps a page read in `generation`, unless something was evicted since (the page may predate the change). */
  private keepPage(key: string, page: readonly ListedPolicy[], generation: number): void {
    if (generation !== this.generation) return;
    if (this.pagesGeneration !== generation || this.pagedRows + page.length > MAX_LISTED_ROWS) {
      this.pages.clear();
      this.pagedRows = 0;
      this.pagesGeneration = generation;
    }
    this.pages.set(key, page);
    this.pagedRows += page.length;
  }

  private async readPolicy(name: string, generation: number): Promise<StoredPolicy | undefined> {
    const stored = await this.inner.getPolicy(name);
    return stored && this.remember(stored, generation);
  }

  override async createResources(items: readonly NewResourceWithPolicy[], actor: Actor): Promise<CreatedResource[]> {
    // Every item's name, written or not: an entry of a name (a cached absence, a chain that ended there) goes stale.
    return this.evictingAfter(items.map((item) => item.resource.name), this.inner.createResources(items, actor));
  }

  override async updateResource(
    name: string,
    decide: (current: Resource, hierarchy: HierarchyReader) => ResourceChanges,
    actor: Actor,
    reads: readonly string[] = [],
  ): Promise<Resource> {
    // A move changes the moved resource's entry (its parent); the entries below it name their parents, unchanged.
    return this.evictingAfter([name], this.inner.updateResource(name, decide, actor, reads));
  }

  override async deleteResource(
    name: string,
    decide: (current: Resource, hierarchy: HierarchyReader) => { cascade: boolean },
    actor: Actor,
  ): Promise<string[]> {
    try {
      const deleted = await this.inner.deleteResource(name, decide, actor);
      for (const gone of deleted) this.evict(gone);
      return deleted;
    } finally {
      this.evict(name);
    }
  }

  override async updatePolicy(resource: string, decide: (stored: StoredPolicy) => Policy | undefined, actor: Actor): Promise<Policy> {
    return this.evictingAfter([resource], this.inner.updatePolicy(resource, decide, actor));
  }

  /**
   * Logged against the resource, whose chain link carries its deny rules and (a root's) custom roles; a shared
   * policy's (its own link, and the links of its targets that hold it, are evicted).
   */
  override async updateDocument(
    kind: string,
    resource: string,
    key: string,
    decide: (stored: AttachedDocuments | undefined, links: LinkCount) => DocumentWrite | DocumentRemoval,
    actor: Actor,
    options?: DocumentWriteOptions,
  ): Promise<StoredDocument | undefined> {
    return this.evictingAfter([resource], this.inner.updateDocument(kind, resource, key, decide, actor, options));
  }

  /** Evicts `names` once `write` settles, whether it committed or failed (a failure may still have committed). */
  private async evictingAfter<T>(names: readonly string[], write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      for (const name of names) this.evict(name);
    }
  }

  override async stats(): Promise<StoreStats> {
    return { ...(await this.inner.stats()), cacheEntries: this.cache.size, cacheBytes: this.cache.weight };
  }

}

function sameRevision(a: StoredPolicy, b: StoredPolicy): boolean {
  return (
    a.resource.etag === b.resource.etag &&
    Buffer.from(a.policy.etag).equals(b.policy.etag) &&
    sameEtags(a.deny ? [a.deny] : [], b.deny ? [b.deny] : []) &&
    sameEtags(a.roles ?? [], b.roles ?? []) &&
    sameEtags(a.shared ?? [], b.shared ?? []) &&
    (a.shared ?? []).every((x, i) => x.name === b.shared![i]!.name)
  );
}

function sameEtags(a: readonly { etag: Uint8Array }[], b: readonly { etag: Uint8Array }[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.from(x.etag).equals(b[i]!.etag));
}

/** Roughly the heap a decoded entry takes: its resource and the policy's objects. */
function estimatedBytes(stored: StoredPolicy): number {
  let members = 0;
  for (const binding of stored.policy.bindings) for (const member of binding.members) members += member.length;
  let denyBytes = 0;
  for (const rule of stored.deny?.rules ?? []) {
    for (const list of [rule.deniedPrincipals, rule.exceptionPrincipals, rule.deniedPermissions, rule.exceptionPermissions]) {
      for (const item of list) denyBytes += item.length * 3;
    }
    denyBytes += 300;
  }
  for (const role of stored.roles ?? []) denyBytes += 400 + role.includedPermissions.length * 60;
  // A shared policy is decoded once per link that holds it: about as much as a policy and a deny policy.
  for (const shared of stored.shared ?? []) {
    denyBytes += 600 + shared.bindings.length * 200 + shared.denyRules.length * 300;
    for (const binding of shared.bindings) for (const member of binding.members) denyBytes += member.length * 3;
  }
  return 600 + stored.resource.name.length * 2 + stored.policy.bindings.length * 200 + members * 3 + denyBytes;
}
