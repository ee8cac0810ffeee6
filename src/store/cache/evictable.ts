// What a memo of the read cache offers the freshness decorator (freshness.ts), which alone decides what went stale.
export interface Evictable {
  /** `name` changed (a resource, its policy or documents, or a shared policy): drop what holds it. */
  evict(name: string): void;
  /** Too much changed to name: drop everything. */
  evictAll(): void;
}
