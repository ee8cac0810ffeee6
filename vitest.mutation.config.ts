// The tests a mutation run (stryker.config.json, `npm run mutate`) runs against each mutant: the fast ones that cover
// the code that decides access, deny, Watch visibility and ordering — the domain's unit tests, the in-process server
// tests of authorization, deny, shared policies and Watch — and the stores' conformance suite for their write paths.
// Left out: tests that spawn server processes (they would not run the mutant), PostgreSQL unless asked for, packaging,
// the console and the CLI (slow, and they cover other code).
import { defineConfig } from "vitest/config";

// The same inputs every mutation run, so that a mutant killed once stays killed (TEST_SEED=N still replays another).
process.env.TEST_SEED ??= "20261126";

export const MUTATION_TESTS = [
  "test/domain/**/*.test.ts",
  "test/rpc/**/*.test.ts",
  "test/access/**/*.test.ts",
  "test/security/authorization.test.ts",
  "test/security/deny-and-roles.test.ts",
  "test/security/shared-policies.test.ts",
  "test/security/shared-policy-access.test.ts",
  "test/security/answer-disclosure.test.ts",
  "test/security/role-views.test.ts",
  "test/security/leaks.test.ts",
  "test/security/tokens.test.ts",
  "test/watch/watch.test.ts",
  "test/watch/visibility.test.ts",
  "test/watch/history.test.ts",
  // The stores' write paths: the conformance suite on SQLite (bare and cached) and SQLite's group commit; PostgreSQL's
  // conformance (test/store/postgres.test.ts) runs only with POLICY_TEST_PG_SKIP=0 (postgres-store.ts's lines).
  "test/store/sqlite.test.ts",
  "test/store/sqlite-write-batches.test.ts",
  "test/store/sqlite-batch-cache.test.ts",
  "test/store/grant-changes.test.ts",
  "test/store/numbered.test.ts",
  "test/store/postgres.test.ts",
  // A store's copy: store-records.ts's import (SQLite to SQLite; PostgreSQL's pairs with POLICY_TEST_PG_SKIP=0).
  "test/store/copy-store.test.ts",
];

// A narrower run on a busy machine: MUTATION_TESTS="test/access/chain-check.test.ts,test/domain/**/*.test.ts" (globs,
// comma-separated) with `npx stryker run --mutate FILE` tests one file against the tests that cover it.
const only = process.env.MUTATION_TESTS?.split(",").map((glob) => glob.trim()).filter((glob) => glob !== "");

export default defineConfig({
  test: {
    name: "mutation",
    include: only?.length ? only : MUTATION_TESTS,
    // Two server processes on one database: the second would run the unmutated code.
    exclude: ["test/access/replicas.test.ts"],
    globalSetup: ["test/setup/seed.global.ts"],
    setupFiles: ["test/setup/seed.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // PostgreSQL's tests skip unless asked for (POLICY_TEST_PG_SKIP=0: a run over postgres-store.ts's write paths).
    env: { POLICY_TEST_PG_SKIP: process.env.POLICY_TEST_PG_SKIP ?? "1" },
  },
});
