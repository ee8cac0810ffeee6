// --sqlite-batch-rows: the group commit's row budget (write-queue.ts), a count; anything else is refused at start.
import { expect, test } from "vitest";
import { loadConfig } from "../../src/config.js";
import { SQLITE_BATCH_ROWS } from "../../src/store/sqlite/write-queue.js";

test("--sqlite-batch-rows defaults to SQLITE_BATCH_ROWS and takes a count from the flag or the environment", () => {
  expect(loadConfig([], {})).toMatchObject({ sqliteBatchRows: SQLITE_BATCH_ROWS });
  expect(loadConfig(["--sqlite-batch-rows", "0"], {})).toMatchObject({ sqliteBatchRows: 0 });
  expect(loadConfig([], { POLICY_SQLITE_BATCH_ROWS: "500" })).toMatchObject({ sqliteBatchRows: 500 });
});

test("--sqlite-batch-rows that is not a count is refused, naming the flag", () => {
  expect(() => loadConfig(["--sqlite-batch-rows=-1"], {})).toThrow(/--sqlite-batch-rows: "-1" is not a count/);
  expect(() => loadConfig(["--sqlite-batch-rows", "1.5"], {})).toThrow(/--sqlite-batch-rows/);
});
