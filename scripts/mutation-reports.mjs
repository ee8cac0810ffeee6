// Stryker's incremental file holds only the files of the run that wrote it, so runs of one file at a time (each with
// its own --incrementalFile) are merged here into reports/stryker-incremental.json, which `npm run mutate` reuses.
//   node scripts/mutation-reports.mjs merge OUT IN...   a file mutated in several runs (unchanged): each mutant's best
//                                                       result (a later run with only new tests forgets the kills
//                                                       of the tests it did not run: Stryker re-runs those mutants)
//   node scripts/mutation-reports.mjs scores IN         the per-file score table of docs/testing.md, and the survivors
import { readFileSync, writeFileSync } from "node:fs";

const [command, ...args] = process.argv.slice(2);

/** Which result of a mutant wins when runs with different tests disagree: a detection over anything else. */
const RANK = { Killed: 4, Timeout: 4, RuntimeError: 3, CompileError: 3, Ignored: 2, Survived: 1, NoCoverage: 0 };
const mutantKey = (m) => `${m.mutatorName} ${m.replacement} ${JSON.stringify(m.location)}`;

if (command === "merge") {
  const [out, ...inputs] = args;
  const files = {};
  /** Merged tests by `file\0name`, with their new ids. */
  const tests = new Map();
  const testFiles = {};
  let schemaVersion;
  let thresholds;
  for (const input of inputs) {
    const report = JSON.parse(readFileSync(input, "utf8"));
    schemaVersion ??= report.schemaVersion;
    thresholds ??= report.thresholds;
    const newId = new Map();
    for (const [file, testFile] of Object.entries(report.testFiles ?? {})) {
      testFiles[file] ??= { tests: [] };
      if (testFile.source !== undefined) testFiles[file].source = testFile.source;
      for (const test of testFile.tests) {
        const key = `${file}\0${test.name}`;
        let merged = tests.get(key);
        if (!merged) {
          merged = { ...test, id: String(tests.size) };
          tests.set(key, merged);
          testFiles[file].tests.push(merged);
        } else if (test.location) merged.location = test.location;
        newId.set(test.id, merged.id);
      }
    }
    const remap = (ids) => ids && [...new Set(ids.map((id) => newId.get(id)).filter((id) => id !== undefined))];
    for (const [file, result] of Object.entries(report.files)) {
      const mutants = result.mutants.map((m) => ({ ...m, coveredBy: remap(m.coveredBy), killedBy: remap(m.killedBy) }));
      const earlier = files[file];
      if (!earlier || earlier.source !== result.source) {
        files[file] = { ...result, mutants };
        continue;
      }
      // The same source mutated again (a run with other tests): a mutant killed by any run stays killed — its
      // killing test and the code are unchanged — so each mutant keeps its best result.
      const byKey = new Map(earlier.mutants.map((m) => [mutantKey(m), m]));
      for (const m of mutants) {
        const before = byKey.get(mutantKey(m));
        if (!before || RANK[m.status] >= RANK[before.status]) byKey.set(mutantKey(m), m);
      }
      files[file] = { ...result, mutants: [...byKey.values()] };
    }
  }
  writeFileSync(out, JSON.stringify({ schemaVersion, thresholds, files, testFiles }, null, 2));
} else if (command === "scores") {
  const report = JSON.parse(readFileSync(args[0], "utf8"));
  const rows = [];
  const total = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0 };
  for (const [file, result] of Object.entries(report.files)) {
    const count = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0 };
    for (const m of result.mutants) count[m.status in count ? m.status : "other"]++;
    for (const k of Object.keys(total)) total[k] += count[k];
    rows.push([file, count]);
  }
  const score = (c) => {
    const detected = c.Killed + c.Timeout;
    const valid = detected + c.Survived + c.NoCoverage;
    return valid === 0 ? "n/a" : `${((100 * detected) / valid).toFixed(1)}%`;
  };
  console.log("| file | score | killed | timed out | survived | no coverage | ignored/errors |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const [file, c] of [...rows, ["**all**", total]]) {
    console.log(`| ${file.startsWith("*") ? file : `\`${file}\``} | ${score(c)} | ${c.Killed} | ${c.Timeout} | ${c.Survived} | ${c.NoCoverage} | ${c.other} |`);
  }
  console.log();
  for (const [file, result] of Object.entries(report.files)) {
    const lines = result.source.split("\n");
    for (const m of result.mutants) {
      if (m.status !== "Survived" && m.status !== "NoCoverage") continue;
      const { start, end } = m.location;
      const original = lines.slice(start.line - 1, end.line).join("\n");
      const text = start.line === end.line ? original.slice(start.column - 1, end.column - 1) : `${original.slice(0, 80)}…`;
      console.log(`${m.status} ${file}:${start.line}:${start.column} ${m.mutatorName} ${JSON.stringify(text.slice(0, 100))} -> ${JSON.stringify((m.replacement ?? "").slice(0, 100))}`);
    }
  }
} else {
  console.error("usage: mutation-reports.mjs merge OUT IN... | scores IN");
  process.exit(2);
}
