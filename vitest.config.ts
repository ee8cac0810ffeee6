import { Socket } from "node:net";
import { defineConfig } from "vitest/config";

// The integration tests that matter for a store (policy semantics, concurrency, crash) run a second time on PostgreSQL,
// as the "postgres" project (POLICY_TEST_DB=postgres). Where nothing listens at PostgreSQL's address that project is
// left out with one printed line — not under CI=true, where it runs and fails. Tests that stop or crash PostgreSQL
// (replicas-postgres, postgres-outage, postgres-connection-loss) start a private cluster each
// (test/helpers/private-postgres.ts) and run with the others: the machine's server is never stopped.
const STORE_TESTS = [
  "test/integration/policy-semantics.test.ts",
  "test/integration/concurrency.test.ts",
  "test/integration/crash.test.ts",
  // Consumer bounds are counted in the write's transaction: concurrent registrations on PostgreSQL too.
  "test/watch/consumer-bounds.test.ts",
  // Snapshot reads one state across pages: a REPEATABLE READ transaction on PostgreSQL.
  "test/edge/snapshot.test.ts",
  // The mirror through two replicas of one database, writes through either.
  "test/edge/mirror.property.test.ts",
  // Bulk import writes through each store's group commit.
  "test/integration/import-resources.test.ts",
  // The PostgreSQL store's group commit notes the rows a traced write appended, for Watch's links.
  "test/ops/tracing.test.ts",
];
const pgAddress = new URL(process.env.POLICY_TEST_PG ?? "postgres://root@127.0.0.1:5432/postgres");

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

export default defineConfig(async () => {
  const underCi = ["1", "true"].includes((process.env.CI ?? "").toLowerCase());
  const postgres = underCi || (await listening(pgAddress.hostname, Number(pgAddress.port || 5432)));
  if (!postgres) console.log(`PostgreSQL not reachable at ${pgAddress.host}: skipping the PostgreSQL tests`);
  // Every project draws fast-check inputs from the run's printed seed (test/setup/seed.global.ts).
  const common = { testTimeout: 30_000, hookTimeout: 30_000, setupFiles: ["test/setup/seed.ts"] };
  return {
    test: {
      // The fast-check seed of the run; the CLI's bundle for the CLI tests; the console's end-to-end tests need its
      // bundle: built when missing or stale.
      globalSetup: ["test/setup/seed.global.ts", "test/setup/cli-bundle.global.ts", "console/test/global-setup.ts"],
      // Integration tests start servers and child processes; two cores here.
      maxWorkers: 2,
      projects: [
        {
          test: {
            ...common,
            name: "sqlite",
            include: ["test/**/*.test.ts", "console/test/**/*.test.ts"],
            // Said once above: the PostgreSQL tests in this project skip without a line each (test/helpers/postgres.ts).
            env: postgres ? {} : { POLICY_TEST_PG_SKIP: "1" },
          },
        },
        ...(postgres
          ? [{ test: { ...common, name: "postgres", include: STORE_TESTS, env: { POLICY_TEST_DB: "postgres" } } }]
          : []),
      ],
    },
  };
});
