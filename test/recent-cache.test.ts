// The bounded cache under the store's reads: it never holds more than its budget, and keeps what is read often.
import { describe, expect, test } from "vitest";
import { RecentCache } from "../src/recent-cache.js";

describe("RecentCache", () => {
  test("never holds more weight than its budget, however much is put in", () => {
    const cache = new RecentCache<number, string>(1000);
    for (let i = 0; i < 10_000; i++) {
      cache.set(i, `v${i}`, 1 + (i % 50));
      expect(cache.weight).toBeLessThanOrEqual(1000);
    }
    expect(cache.size).toBeGreaterThan(0);
  });

  test("an entry read regularly survives any number of others passing through", () => {
    const cache = new RecentCache<string, number>(100);
    cache.set("hot", 1, 1);
    for (let i = 0; i < 10_000; i++) {
      cache.set(`cold${i}`, i, 1);
      if (i % 20 === 0) expect(cache.get("hot"), `after ${i}`).toBe(1);
    }
  });

  test("an entry not read is dropped after two generations", () => {
    const cache = new RecentCache<string, number>(100);
    cache.set("once", 1, 1);
    for (let i = 0; i < 120; i++) cache.set(`other${i}`, i, 1);
    expect(cache.get("once")).toBeUndefined();
  });

  test("set replaces, delete removes, and the weight follows", () => {
    const cache = new RecentCache<string, string>(100);
    cache.set("a", "first", 10);
    cache.set("a", "second", 20);
    expect(cache.get("a")).toBe("second");
    expect(cache.weight).toBe(20);
    cache.delete("a");
    expect(cache.get("a")).toBeUndefined();
    expect(cache.weight).toBe(0);
  });

  test("a value heavier than half the budget is not kept (it would evict everything else)", () => {
    const cache = new RecentCache<string, string>(100);
    cache.set("small", "s", 10);
    cache.set("huge", "h", 60);
    expect(cache.get("huge")).toBeUndefined();
    expect(cache.get("small")).toBe("s");
  });

  test("clear empties it", () => {
    const cache = new RecentCache<number, number>(100);
    for (let i = 0; i < 10; i++) cache.set(i, i, 1);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.weight).toBe(0);
    expect(cache.get(1)).toBeUndefined();
  });
});
