// /metrics on PostgreSQL: the pool's connections and statement counts and time, from the store's stats.
import { describe, expect, test } from "vitest";
import { createPostgresDatabase, postgresAvailable } from "../helpers/postgres.js";
import { startTestServer } from "../helpers/server.js";

describe.runIf(postgresAvailable())("metrics on PostgreSQL", () => {
  test("pool use and query latency", async () => {
    const database = await createPostgresDatabase();
    const server = await startTestServer({ db: database.url, dbPool: 3 });
    try {
      await server.grpc.resources.createResource({ resource: { name: "organizations/m" } });
      await server.grpc.policies.getPolicy({ resource: "organizations/m" });
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
      expect(value('policy_store_pool_connections{state="max"}')).toBe(3);
      expect(value('policy_store_pool_connections{state="idle"}') + value('policy_store_pool_connections{state="busy"}')).toBeGreaterThan(0);
      expect(value("policy_store_pool_waiting")).toBeGreaterThanOrEqual(0);
      expect(value("policy_store_queries_total")).toBeGreaterThan(2);
      expect(value("policy_store_query_seconds_total")).toBeGreaterThan(0);
      expect(value("policy_store_bytes")).toBeGreaterThan(1_000_000);
    } finally {
      await server.close();
      await database.drop();
    }
  });
});
