// SQLite's failures in storage terms: a full disk and lock contention are plain store errors (the caller gets
// RESOURCE_EXHAUSTED / UNAVAILABLE, the operator a log line and a metric), not unexpected exceptions.
import Sqlite from "better-sqlite3";
import { StoreError } from "../store-error.js";

/** `error` as a StoreError when it is one SQLite reports for space or locks; anything else unchanged. */
export function storeErrorOf(error: unknown): unknown {
  if (!(error instanceof Sqlite.SqliteError)) return error;
  if (error.code === "SQLITE_FULL") {
    return new StoreError(
      "exhausted",
      "",
      "the database's disk is full (SQLITE_FULL): free space on its volume or raise its quota; committed data is intact",
      { cause: error },
    );
  }
  if (error.code.startsWith("SQLITE_BUSY") || error.code.startsWith("SQLITE_LOCKED")) {
    return new StoreError(
      "unavailable",
      "",
      `the database stayed locked by another connection past the busy timeout (${error.code}): look for a long ` +
        "transaction in another process or script on the same file",
      { cause: error },
    );
  }
  return error;
}

/** Makes every async method of `prototype` reject with `storeErrorOf` its error: one place for reads and writes. */
export function mapSqliteErrors(prototype: object): void {
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name)!;
    const method = descriptor.value as unknown;
    if (name === "constructor" || typeof method !== "function" || method.constructor.name !== "AsyncFunction") continue;
    Object.defineProperty(prototype, name, {
      ...descriptor,
      value(this: unknown, ...args: unknown[]) {
        return (method as (...a: unknown[]) => Promise<unknown>).apply(this, args).catch((e: unknown) => {
          throw storeErrorOf(e);
        });
      },
    });
  }
}
