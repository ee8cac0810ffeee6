// The list memo (one job of the read cache, caching-store.ts): pages of policies as listed since the last eviction, by
// query. Any change may add, remove or reorder a page's rows, so every eviction drops them all; a page read again
// before anything changes costs no SQL. The rows are the policy memo's entries (shared, so what is derived from them
// is memoised: the listed form, its encoding): the store names the page with each policy's revision, the policy memo
// supplies each policy. The store's own listing rows are never kept: they carry no deny rules or roles.
import type { Span } from "@opentelemetry/api";
import { etagSequence } from "../../etag.js";
import { inChildSpan } from "../../tracing/spans.js";
import { ForwardingStore } from "../forwarding-store.js";
import type { ListedName, ListedPolicy, PolicyQuery, Store, UnreadablePolicy } from "../store.js";
import type { Evictable } from "./evictable.js";
import { HIT, type PolicyEntries } from "./policy-memo.js";

/** The rows of listed pages kept (references to cached policies, plus a cursor each). */
const MAX_LISTED_ROWS = 20_000;

export class ListMemo extends ForwardingStore implements Evictable {
  /** The pages kept, by query; at most MAX_LISTED_ROWS rows in all. */
  private readonly pages = new Map<string, readonly ListedPolicy[]>();
  private pagesGeneration = 0;
  private pagedRows = 0;
  /** Bumped by every eviction: a page read before one must not be kept. */
  private generation = 0;

  constructor(
    inner: Store,
    private readonly policies: PolicyEntries,
  ) {
    super(inner);
  }

  override listPolicies(query: PolicyQuery & { namesOnly: true }): Promise<ListedName[]>;
  override listPolicies(query: PolicyQuery): Promise<readonly (ListedPolicy | UnreadablePolicy)[]>;
  override listPolicies(query: PolicyQuery & { namesOnly?: true }): Promise<ListedName[] | readonly (ListedPolicy | UnreadablePolicy)[]> {
    // Names are the inner store's to answer: the cache keeps policies, not listings of names.
    if (query.namesOnly) return this.inner.listPolicies({ ...query, namesOnly: true });
    return inChildSpan("cache listPolicies", undefined, (span) => this.listCachedPolicies(query, span));
  }

  private async listCachedPolicies(query: PolicyQuery, span: Span | undefined): Promise<readonly (ListedPolicy | UnreadablePolicy)[]> {
    const generation = this.generation;
    const key = JSON.stringify([query.type, query.beneath, query.afterCursor, query.limit]);
    const kept = this.pagesGeneration === generation ? this.pages.get(key) : undefined;
    span?.setAttribute(HIT, kept !== undefined);
    if (kept) return kept;
    const names = await this.inner.listPolicies({ ...query, namesOnly: true });
    const listed: ListedPolicy[] = [];
    for (const { name, cursor, revision } of names) {
      let stored = this.policies.peek(name);
      // Not cached, or older than the row (another process committed after this turn's freshness look): read it.
      if (!stored || etagSequence(stored.policy.etag) !== revision) {
        try {
          stored = await this.policies.read(name);
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

  /** Any change may add, drop or reorder rows of any page: whatever the name, every page goes. */
  evict(): void {
    this.generation++;
  }

  evictAll(): void {
    this.generation++;
  }
}
