// The closing line of CI, "N passed, N failed[, N skipped]", from vitest's JSON report, the Python interop log and the
// Python SDK's log.
// A test file that fails to import or whose beforeAll throws has no failed test of its own (vitest counts its tests
// as skipped), and a Python setUpClass error runs no test: each counts as a failure here, so the line never reads
// green for a run that was not.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** Counts from a vitest JSON report (undefined: the report is missing or unreadable). */
export function vitestCounts(report) {
  if (!report) return { passed: 0, failed: 1, skipped: 0 };
  const brokenFiles = (report.testResults ?? []).filter(
    (file) => file.status === "failed" && !(file.assertionResults ?? []).some((test) => test.status === "failed"),
  ).length;
  return {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + brokenFiles + (report.numTotalTests === 0 ? 1 : 0),
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
}

/** Counts from a Python log: its "{label}: N passed, N failed[, N skipped]" lines (python-interop, python-sdk). */
export function pythonCounts(log, label = "python-interop") {
  const lines = [...log.matchAll(new RegExp(`${label}: (-?\\d+) passed, (\\d+) failed(?:, (\\d+) skipped)?`, "g"))];
  if (lines.length === 0) return { passed: 0, failed: 1, skipped: 0 };
  return lines.reduce(
    (sum, m) => ({
      passed: sum.passed + Math.max(0, Number(m[1])),
      failed: sum.failed + Number(m[2]),
      skipped: sum.skipped + Number(m[3] ?? 0),
    }),
    { passed: 0, failed: 0, skipped: 0 },
  );
}

/** The closing line; a step that exited non-zero with nothing counted as failed counts as one failure. */
export function summary(counts, statuses) {
  const total = counts.reduce((a, c) => ({ passed: a.passed + c.passed, failed: a.failed + c.failed, skipped: a.skipped + c.skipped }));
  if (total.failed === 0 && statuses.some((status) => status !== 0)) total.failed = 1;
  return `${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ""}`;
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

function readText(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

// node .ci/summary.mjs VITEST_JSON PYTHON_LOG PYTHON_SDK_LOG VITEST_STATUS PYTHON_STATUS PYTHON_SDK_STATUS
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [json, log, sdkLog, ...statuses] = process.argv.slice(2);
  const counts = [vitestCounts(readJson(json)), pythonCounts(readText(log)), pythonCounts(readText(sdkLog), "python-sdk")];
  console.log(summary(counts, statuses.map(Number)));
}
