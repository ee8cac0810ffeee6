// The conformance suite against SQLite: bare, and behind the read cache (as the server runs it).
import Sqlite from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cachingStore } from "../../src/store/caching-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { UNDECODABLE, storeContract, type StoreDatabase } from "./contract.js";

function sqliteDatabase(wrap: (store: SqliteStore) => Store): () => Promise<StoreDatabase> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "store-contract-"));
    return {
      open: async () => wrap(new SqliteStore(join(dir, "policy.db"))),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
      damagePolicy: async (resource) => {
        const db = new Sqlite(join(dir, "policy.db"));
        try {
          db.prepare("UPDATE documents SET body = ? WHERE kind = 'policy' AND key = '' AND resource_id = (SELECT id FROM resources WHERE name = ?)").run(UNDECODABLE, resource);
        } finally {
          db.close();
        }
      },
    };
  };
}

storeContract({ name: "sqlite", cached: false, createDatabase: sqliteDatabase((store) => store) });
storeContract({ name: "sqlite + cache", cached: true, createDatabase: sqliteDatabase((store) => cachingStore(store)) });
