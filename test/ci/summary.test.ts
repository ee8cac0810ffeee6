// CI's closing line counts every way a run can fail: a file that fails to import or whose setup throws, a Python
// class whose setup fails, a step that exits non-zero with nothing counted.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, test } from "vitest";
// @ts-expect-error: plain JavaScript, run by node in CI without a build
import { pythonCounts, summary, vitestCounts } from "../../.ci/summary.mjs";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
const dir = mkdtempSync(join(tmpdir(), "ci-summary-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a real vitest report with a broken import and a failed beforeAll counts both as failures", async () => {
  const out = join(dir, "results.json");
  const vitest = join(FIXTURES, "../../../node_modules/vitest/vitest.mjs");
  const run = promisify(execFile)(process.execPath, [vitest, "run", "--root", FIXTURES, "--config", "fixtures.vitest.config.mjs", "--reporter=json", `--outputFile=${out}`]);
  await expect(run).rejects.toMatchObject({ code: 1 });
  const report = JSON.parse(readFileSync(out, "utf8"));
  // What vitest itself says: no failed test at all.
  expect(report.numFailedTests).toBe(0);
  expect(vitestCounts(report)).toEqual({ passed: 1, failed: 2, skipped: 1 });
  expect(summary([vitestCounts(report), pythonCounts("python-interop: 3 passed, 0 failed, 0 skipped")], [1, 0])).toBe(
    "4 passed, 2 failed, 1 skipped",
  );
});

test("a missing or empty report is a failure", () => {
  expect(vitestCounts(undefined).failed).toBe(1);
  expect(vitestCounts({ numPassedTests: 0, numFailedTests: 0, numTotalTests: 0, testResults: [] }).failed).toBe(1);
});

test("a Python setUpClass failure (the old script printed -1 passed) counts as a failure, not as -1 passed", () => {
  expect(pythonCounts("python-interop: -1 passed, 1 failed")).toEqual({ passed: 0, failed: 1, skipped: 0 });
  expect(pythonCounts("no summary line at all")).toEqual({ passed: 0, failed: 1, skipped: 0 });
  expect(pythonCounts("python-interop: 5 passed, 0 failed, 1 skipped\npython-interop: 5 passed, 1 failed, 0 skipped")).toEqual({
    passed: 10,
    failed: 1,
    skipped: 1,
  });
});

test("a step that exited non-zero with every count green still reads as a failure", () => {
  expect(summary([{ passed: 3, failed: 0, skipped: 0 }], [0, 2])).toBe("3 passed, 1 failed");
  expect(summary([{ passed: 3, failed: 0, skipped: 0 }], [0, 0])).toBe("3 passed, 0 failed");
});

test("the Python SDK's pytest line is counted under its own label; a missing one is a failure", () => {
  const log = "....\npython-sdk: 7 passed, 1 failed, 2 skipped\n7 passed in 1s\npython-interop: 3 passed, 0 failed";
  expect(pythonCounts(log, "python-sdk")).toEqual({ passed: 7, failed: 1, skipped: 2 });
  expect(pythonCounts(log)).toEqual({ passed: 3, failed: 0, skipped: 0 });
  expect(pythonCounts("ImportError: no module named grpc", "python-sdk")).toEqual({ passed: 0, failed: 1, skipped: 0 });
});
