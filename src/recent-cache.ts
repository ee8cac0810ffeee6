// A map bounded by the total weight of its values that keeps what was used recently: two generations (the "hashlru"
// scheme). A read looks in the young generation, then in the old one and promotes what it finds; when the young
// generation would pass half the budget it becomes the old one and the old one is dropped. Every operation is O(1) and a
// hit costs one Map lookup, so the hot path pays no bookkeeping.
interface Entry<V> {
  value: V;
  weight: number;
}

export class RecentCache<K, V> {
  private young = new Map<K, Entry<V>>();
  private old = new Map<K, Entry<V>>();
  private youngWeight = 0;
  private oldWeight = 0;

  /** @budget the most weight held at once (young and old generations together). */
  constructor(private readonly budget: number) {}

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The total weight held. */
  get weight(): number {
    return this.youngWeight + this.oldWeight;
  }

  get(key: K): V | undefined {
    const young = this.young.get(key);
    if (young) return young.value;
    const old = this.old.get(key);
    if (!old) return undefined;
    this.old.delete(key);
    this.oldWeight -= old.weight;
    this.insert(key, old);
    return old.value;
  }

  set(key: K, value: V, weight: number): void {
    // Larger than a generation: it would flush everything else and still not stay.
    if (weight > this.budget / 2) return;
    this.delete(key);
    this.insert(key, { value, weight });
  }

  delete(key: K): void {
    const young = this.young.get(key);
    if (young) {
      this.young.delete(key);
      this.youngWeight -= young.weight;
    }
    const old = this.old.get(key);
    if (old) {
      this.old.delete(key);
      this.oldWeight -= old.weight;
    }
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngWeight = 0;
    this.oldWeight = 0;
  }

  /** Each generation stays within half the budget: a full young generation becomes the old one first. */
  private insert(key: K, entry: Entry<V>): void {
    if (this.youngWeight + entry.weight > this.budget / 2) {
      this.old = this.young;
      this.oldWeight = this.youngWeight;
      this.young = new Map();
      this.youngWeight = 0;
    }
    this.young.set(key, entry);
    this.youngWeight += entry.weight;
  }
}
