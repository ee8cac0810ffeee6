// Mutation testing (StrykerJS, its vitest runner) of the code that decides access, deny, Watch visibility and
// ordering: `npm run mutate`. Each mutant runs only the tests that cover it (perTest) from vitest.mutation.config.ts.
// Incremental: reports/stryker-incremental.json is committed, so a re-run after a small change tests only the mutants
// and tests it touched. One mutant at a time (concurrency 1): the machine has two cores. Scores: docs/testing.md.
// A subset writes an incremental file of that subset only (Stryker replaces the file), so give it a file of its own and
// merge: `MUTATION_TESTS="test/domain/deny-rules.test.ts" npx stryker run --mutate src/domain/deny-rules.ts
// --incrementalFile reports/runs/deny.json`, then `node scripts/mutation-reports.mjs merge reports/stryker-incremental.json
// reports/stryker-incremental.json reports/runs/deny.json` (docs/testing.md, "Mutation testing").
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  // Stryker rewrites tsconfig.json in its sandbox with the TypeScript API, which TypeScript 7 (the native compiler)
  // does not have; vitest does not read tsconfig.json for paths here, so no tsconfig is named (the file does not exist).
  "tsconfigFile": "no-tsconfig-for-stryker.json",
  "testRunner": "vitest",
  "vitest": {
    "configFile": "vitest.mutation.config.ts",
    "related": false
  },
  "coverageAnalysis": "perTest",
  "incremental": true,
  "incrementalFile": "reports/stryker-incremental.json",
  "concurrency": 1,
  // A mutant only module loading or a hook reaches (no test of its own) would run every test: left out.
  "ignoreStatic": true,
  "timeoutMS": 20000,
  "timeoutFactor": 2,
  "mutate": [
    "src/rpc/auth/**/*.ts",
    "src/domain/access/**/*.ts",
    "src/domain/deny-rules.ts",
    "src/domain/policy-write.ts",
    "src/domain/watch-visibility.ts",
    "src/domain/binding-validation.ts",
    "src/domain/conditions.ts",
    "src/domain/watch.ts",
    // What bytes (or message) a watcher receives for a change shared by every stream.
    "src/domain/shared-response.ts",
    "src/domain/change-feed.ts",
    "src/domain/sync.ts",
    "src/domain/sync-status.ts",
    "src/domain/shared-policies.ts",
    "src/etag.ts",
    // The stores' write paths: the SQL and rows both stores share, SQLite's group commit, and the write methods of the
    // two stores (line ranges: their reads are left out; docs/testing.md, "The stores' write paths"). The SQL text is
    // module-level (static, left out by ignoreStatic); what is mutated is the code that fills and maps it.
    "src/store/documents.ts",
    "src/store/links.ts",
    "src/store/consumers.ts",
    "src/store/change-log.ts",
    "src/store/batch-create.ts",
    // What both stores' writeAttached write for an access policy or a document (round 10).
    "src/store/attached-write.ts",
    // A copy's import (importRecords' writes, both databases): the export above it is read-only.
    "src/store/store-records.ts:187-349",
    "src/store/sqlite/write-queue.ts",
    // SqliteStore: createResources, updateResource, deleteResource and the decide callbacks' hierarchy; updateLink and
    // logLink; updateDocument, writeAttached (the one write path of policies and documents) and removeOwner;
    // updatePolicy; pruneChanges and the consumer writes; the write helpers (newChange to requireId). importRecords is
    // left out: the conformance suite does not copy (test/store/copy-store.test.ts does).
    "src/store/sqlite/sqlite-store.ts:218-315",
    "src/store/sqlite/sqlite-store.ts:372-418",
    "src/store/sqlite/sqlite-store.ts:431-516",
    "src/store/sqlite/sqlite-store.ts:603-613",
    "src/store/sqlite/sqlite-store.ts:668-696",
    "src/store/sqlite/sqlite-store.ts:713-734",
    "src/store/sqlite/sqlite-store.ts:770-835",
    // PostgresStore (its tests need POLICY_TEST_PG_SKIP=0): the policy batch and its flush (with `columns`),
    // createResources to deleteResource, updateLink, updateDocument with writeAttached and removeOwner, updatePolicy
    // with prefetchPolicies, pruneChanges and the consumer writes, and the module's write helpers (readForWrite to
    // linkLog, consumerQuery to hierarchyFor). Ranges checked against the file after migration 11 (docs/testing.md,
    // round 10); importRecords left out, as SQLite's.
    "src/store/postgres/postgres-store.ts:148-183",
    "src/store/postgres/postgres-store.ts:322-435",
    "src/store/postgres/postgres-store.ts:487-534",
    "src/store/postgres/postgres-store.ts:549-675",
    "src/store/postgres/postgres-store.ts:750-772",
    "src/store/postgres/postgres-store.ts:811-847",
    "src/store/postgres/postgres-store.ts:866-897",
    "src/store/postgres/postgres-store.ts:931-987",
    "src/store/postgres/postgres-store.ts:1010-1056"
  ],
  "ignorePatterns": [
    "dist",
    "console/dist",
    "clients",
    ".vitest",
    "data",
    "*.db",
    "packages/*/dist",
    "reports/mutation"
  ],
  "reporters": [
    "clear-text",
    "progress-append-only",
    "json",
    "html"
  ],
  "jsonReporter": {
    "fileName": "reports/mutation/mutation.json"
  },
  "htmlReporter": {
    "fileName": "reports/mutation/mutation.html"
  },
  "clearTextReporter": {
    "allowEmojis": false,
    "logTests": false,
    "reportMutants": true,
    "reportScoreTable": true
  },
  "tempDirName": ".stryker-tmp",
  "cleanTempDir": true
};
