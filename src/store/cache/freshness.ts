// The freshness rule of the read cache (docs/architecture.md, "Cache freshness"), as a decorator over the memos it
// guards (caching-store.ts composes them): it alone decides what went stale and tells every memo. Reads are never
// stale: this process's writes evict what they change once they settle, and other instances' commits (other processes
// or replicas on the same database) are found through the inner store's changesSince before a cached read.
import { ForwardingStore, type Args } from "../forwarding-store.js";
import type { ListedName, ListedPolicy, PolicyQuery, Store, StoredPolicy, UnreadablePolicy } from "../store.js";
import type { Evictable } from "./evictable.js";

/** More changes than this since the last look: drop every memo instead of evicting them one by one. */
const MAX_CHANGES_TO_EVICT = 1000;

// Reads it does not override go straight to the inner store: resources, documents, shared policies, the member index,
// the change log and consumers are read fresh (no memo holds them), and a snapshot reads one state of the database.
export class Freshness extends ForwardingStore {
  /** The change-log sequence up to which every change is known to have been evicted. */
  private evictedThrough: number;
  /** This turn's look, shared by every read of the turn (see fresh). */
  private check: Promise<void> | undefined;
  /** This turn's look has finished: the rest of the turn's reads go straight to the memos. */
  private looked = false;
  /** Counts the turns that ended: a look that finishes after its turn does not mark the next one looked. */
  private turn = 0;
  private readonly endTurn = () => {
    this.check = undefined;
    this.looked = false;
    this.turn++;
  };
  private readonly endTurnAfterMicrotasks = () => process.nextTick(this.endTurn);

  constructor(
    inner: Store,
    private readonly memos: readonly Evictable[],
  ) {
    super(inner);
    this.evictedThrough = inner.writtenSequence;
  }

  override async latestSequence(): Promise<number> {
    await this.fresh();
    return Math.max(this.evictedThrough, this.inner.writtenSequence);
  }

  override getPolicy(resource: string): Promise<StoredPolicy | undefined> {
    const look = this.fresh();
    return look ? look.then(() => this.inner.getPolicy(resource)) : this.inner.getPolicy(resource);
  }

  override ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    const look = this.fresh();
    return look ? look.then(() => this.inner.ancestry(resource)) : this.inner.ancestry(resource);
  }

  override listPolicies(query: PolicyQuery & { namesOnly: true }): Promise<ListedName[]>;
  override listPolicies(query: PolicyQuery): Promise<readonly (ListedPolicy | UnreadablePolicy)[]>;
  override listPolicies(query: PolicyQuery & { namesOnly?: true }): Promise<ListedName[] | readonly (ListedPolicy | UnreadablePolicy)[]> {
    // Names are listed by the database itself: fresh without a look.
    if (query.namesOnly) return this.inner.listPolicies({ ...query, namesOnly: true });
    const look = this.fresh();
    return look ? look.then(() => this.inner.listPolicies(query)) : this.inner.listPolicies(query);
  }

  /**
   * Evicts what other instances changed since the last look, so that a read made after their commit never sees the
   * state before it. One look serves the rest of this turn of the event loop (this macrotask, its ticks and its
   * microtasks): every request handled in it arrived before the look (socket data is only read in a new macrotask),
   * so it cannot follow a commit the look missed. The turn ends in a tick queued by a microtask queued now: Node runs
   * that tick only once the microtask queue has drained, so the calls of this turn that reach here after an await
   * share the look too, and it still ends before the next macrotask. Undefined once the turn's look has finished.
   */
  private fresh(): Promise<void> | undefined {
    if (this.looked) return undefined;
    if (!this.check) {
      this.check = this.look(this.turn);
      queueMicrotask(this.endTurnAfterMicrotasks);
    }
    return this.check;
  }

  private async look(turn: number): Promise<void> {
    const { latest, changed } = await this.inner.changesSince(this.evictedThrough, MAX_CHANGES_TO_EVICT);
    if (changed === "many") this.evictAll();
    else for (const name of changed) this.evict(name);
    this.evictedThrough = Math.max(this.evictedThrough, latest);
    if (turn === this.turn) this.looked = true;
  }

  private evict(name: string): void {
    for (const memo of this.memos) memo.evict(name);
  }

  private evictAll(): void {
    for (const memo of this.memos) memo.evictAll();
  }

  /** Evicts `names` once `write` settles, whether it committed or failed (a failure may still have committed). */
  private async evictingAfter<T>(names: readonly string[], write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      for (const name of names) this.evict(name);
    }
  }

  // The writes: each evicts the names whose entries it may change once it settles.

  /** Logged against the `to` end: its chain link lists the shared policies bound to it. */
  override updateLink(...args: Args<"updateLink">): ReturnType<Store["updateLink"]> {
    const [, , to] = args;
    return this.evictingAfter([to], () => this.inner.updateLink(...args));
  }

  /** A whole store's copy: everything may have changed. */
  override async importRecords(...args: Args<"importRecords">): ReturnType<Store["importRecords"]> {
    try {
      return await this.inner.importRecords(...args);
    } finally {
      this.evictAll();
    }
  }

  override createResources(...args: Args<"createResources">): ReturnType<Store["createResources"]> {
    // Every item's name, written or not: an entry of a name (a cached absence, a chain that ended there) goes stale.
    const [items] = args;
    return this.evictingAfter(items.map((item) => item.resource.name), () => this.inner.createResources(...args));
  }

  override updateResource(...args: Args<"updateResource">): ReturnType<Store["updateResource"]> {
    // A move changes the moved resource's entry (its parent); the entries below it name their parents, unchanged.
    const [name] = args;
    return this.evictingAfter([name], () => this.inner.updateResource(...args));
  }

  override async deleteResource(...args: Args<"deleteResource">): ReturnType<Store["deleteResource"]> {
    const [name] = args;
    try {
      const deleted = await this.inner.deleteResource(...args);
      for (const gone of deleted) this.evict(gone);
      return deleted;
    } finally {
      this.evict(name);
    }
  }

  override updatePolicy(...args: Args<"updatePolicy">): ReturnType<Store["updatePolicy"]> {
    const [resource] = args;
    return this.evictingAfter([resource], () => this.inner.updatePolicy(...args));
  }

  /**
   * Logged against the resource, whose chain link carries its deny rules and (a root's) custom roles; a shared
   * policy's (its own link, and the links of its targets that hold it, are evicted).
   */
  override updateDocument(...args: Args<"updateDocument">): ReturnType<Store["updateDocument"]> {
    const [, resource] = args;
    return this.evictingAfter([resource], () => this.inner.updateDocument(...args));
  }
}
