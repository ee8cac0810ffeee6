// The consumers a process keeps in memory (sync.ts), indexed by subtree: the consumers that cover a resource are
// found by looking up each name of its lineage, so the cost of a status is O(depth + consumers covering it), however
// many consumers other subtrees (other organizations) have. Immutable: a change makes a new index, so a reader that
// holds one sees one consistent set.
import type { ConsumerChanges, StoredConsumer } from "../store/store.js";

export class ConsumerIndex {
  static readonly EMPTY = new ConsumerIndex(new Map());

  private readonly bySubtree = new Map<string, StoredConsumer[]>();
  /** Consumers of every resource: they cover every read (administrators register them; their number is bounded). */
  private readonly unscoped: StoredConsumer[] = [];
  private readonly sorted: StoredConsumer[];

  private constructor(private readonly byName: ReadonlyMap<string, StoredConsumer>) {
    this.sorted = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const consumer of this.sorted) {
      if (consumer.subtree === "") this.unscoped.push(consumer);
      else {
        const list = this.bySubtree.get(consumer.subtree);
        if (list) list.push(consumer);
        else this.bySubtree.set(consumer.subtree, [consumer]);
      }
    }
  }

  get size(): number {
    return this.byName.size;
  }

  get(name: string): StoredConsumer | undefined {
    return this.byName.get(name);
  }

  /** Every consumer, by name. */
  all(): readonly StoredConsumer[] {
    return this.sorted;
  }

  /** The index after `changes` (this one when nothing changed): O(consumers) when something did. */
  apply(changes: ConsumerChanges): ConsumerIndex {
    if (changes.changed.length === 0 && changes.names === undefined) return this;
    const byName = new Map(this.byName);
    for (const consumer of changes.changed) byName.set(consumer.name, consumer);
    if (changes.names) {
      const present = new Set(changes.names);
      for (const name of byName.keys()) if (!present.has(name)) byName.delete(name);
    }
    return new ConsumerIndex(byName);
  }

  /** Whether finding the consumers of `resource` needs the names of its ancestors: some subtree is another resource. */
  needsLineage(resource: string): boolean {
    return this.bySubtree.size > (this.bySubtree.has(resource) ? 1 : 0);
  }

  /**
   * The consumers covering a resource of schema type `type` whose lineage (its name, then its ancestors' up to the
   * root) is `lineage`, by name: those of one of its types (or of every type) with no subtree or a subtree on the
   * lineage. Looks only at those.
   */
  covering(type: string, lineage: readonly string[]): StoredConsumer[] {
    const found = this.unscoped.filter((consumer) => coversType(consumer, type));
    for (const name of lineage) {
      for (const consumer of this.bySubtree.get(name) ?? []) if (coversType(consumer, type)) found.push(consumer);
    }
    return found.length < 2 ? found : found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** Whether `consumer` applies resources of schema type `type` (it names none: every type). */
export function coversType(consumer: StoredConsumer, type: string): boolean {
  return consumer.resourceTypes.length === 0 || consumer.resourceTypes.includes(type);
}
