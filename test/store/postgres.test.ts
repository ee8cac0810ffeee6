// The conformance suite against PostgreSQL, unchanged: bare, and behind the read cache (as the server runs it). Each
// database is a fresh one with a random name, dropped afterwards.
import { describe } from "vitest";
import { CachingStore } from "../../src/store/caching-store.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import type { Store } from "../../src/store/store.js";
import { createPostgresDatabase, postgresAvailable } from "../helpers/postgres.js";
import { storeContract, type StoreDatabase } from "./contract.js";

function postgresDatabase(wrap: (store: PostgresStore) => Store): () => Promise<StoreDatabase> {
  return async () => {
    const database = await createPostgresDatabase();
    return {
      open: async () => wrap(await PostgresStore.open({ url: database.url, poolSize: 4, statementTimeoutMs: 10_000 })),
      drop: database.drop,
    };
  };
}

describe.runIf(postgresAvailable())("postgres", () => {
  storeContract({ name: "postgres", cached: false, createDatabase: postgresDatabase((store) => store) });
  storeContract({ name: "postgres + cache", cached: true, createDatabase: postgresDatabase((store) => new CachingStore(store)) });
});
