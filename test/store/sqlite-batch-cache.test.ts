// A large batch creation on SQLite runs with a larger page cache and gives the memory back after, also when it fails:
// the server's memory grows by at most BATCH_CACHE_KIB while an import runs, not for good.
import Sqlite from "better-sqlite3";
import { afterEach, expect, test } from "vitest";
import { BATCH_CACHE_ITEMS, BATCH_CACHE_KIB, withBatchCache } from "../../src/store/sqlite/batch-insert.js";

const db = new Sqlite(":memory:");
const cacheSize = () => db.pragma("cache_size", { simple: true });
const DEFAULT = cacheSize();
afterEach(() => expect(cacheSize()).toBe(DEFAULT));

test("a large batch runs with the batch's page cache, then the default again", () => {
  expect(withBatchCache(db, BATCH_CACHE_ITEMS, cacheSize)).toBe(-BATCH_CACHE_KIB);
});

test("a small batch keeps the default cache", () => {
  expect(withBatchCache(db, BATCH_CACHE_ITEMS - 1, cacheSize)).toBe(DEFAULT);
});

test("a batch that throws gives the cache back too", () => {
  expect(() =>
    withBatchCache(db, 10_000, () => {
      throw new Error("disk full");
    }),
  ).toThrow("disk full");
});
