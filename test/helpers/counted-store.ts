// A store that counts the calls of each of its methods: tests that assert how often a layer reaches the store below
// (one look per turn, one chain read shared among streams) count them here.
import type { Store } from "../../src/store/store.js";

/** `store` with a count of the calls of each of its methods, by name. */
export function counted<S extends Store>(store: S): { store: S; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}
