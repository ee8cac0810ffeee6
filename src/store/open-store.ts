// The one place that chooses a store implementation: from the --db setting, wrapped in the read cache.
import { CachingStore } from "./caching-store.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

export interface StoreOptions {
  /** --db: a SQLite file path. */
  db: string;
  /** Memory budget of the read cache in bytes (0: no cache). */
  cacheBytes: number;
}

export function openStore(options: StoreOptions): Store {
  const store = new SqliteStore(options.db);
  return options.cacheBytes > 0 ? new CachingStore(store, options.cacheBytes) : store;
}
