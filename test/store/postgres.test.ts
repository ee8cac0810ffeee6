// The conformance suite against PostgreSQL, unchanged: bare, and behind the read cache (as the server runs it). Each
// database is a fresh one with a random name, dropped afterwards.
import pg from "pg";
import { describe } from "vitest";
import { cachingStore } from "../../src/store/caching-store.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import type { Store } from "../../src/store/store.js";
import { createPostgresDatabase, postgresAvailable } from "../helpers/postgres.js";
import { UNDECODABLE, storeContract, type StoreDatabase } from "./contract.js";

function postgresDatabase(wrap: (store: PostgresStore) => Store): () => Promise<StoreDatabase> {
  return async () => {
    const database = await createPostgresDatabase();
    return {
      open: async () => wrap(await PostgresStore.open({ url: database.url, poolSize: 4, statementTimeoutMs: 10_000 })),
      drop: database.drop,
      damagePolicy: async (resource) => {
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          await client.query("UPDATE documents SET body = $1 WHERE kind = 'policy' AND key = '' AND resource_id = (SELECT id FROM resources WHERE name = $2)", [
            Buffer.from(UNDECODABLE),
            resource,
          ]);
        } finally {
          await client.end();
        }
      },
    };
  };
}

describe.runIf(postgresAvailable())("postgres", () => {
  storeContract({ name: "postgres", cached: false, createDatabase: postgresDatabase((store) => store) });
  storeContract({ name: "postgres + cache", cached: true, createDatabase: postgresDatabase((store) => cachingStore(store)) });
});
