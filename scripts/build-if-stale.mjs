// npm's `prestart`: rebuilds dist/ (the server and the console, not the packages) only when a source is newer than the
// last build, so that `npm start` does not wait for a build it does not need. Plain node on purpose: the check is a
// walk of file times (~0.1 s), and tsx and esbuild (~0.8 s to load) are loaded only when a build is needed.
//   node scripts/build-if-stale.mjs           build if stale
//   node scripts/build-if-stale.mjs --check   print "stale" or "fresh", build nothing
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Written last by a build: its time is the build's; it is absent after a failed build. */
export const STAMP = join(ROOT, "dist", ".built");
/** What dist/ is built from. */
export const INPUTS = ["src", "gen", "schema", "console/src", "package.json", "tsconfig.json", "tsconfig.build.json"];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

/** Whether a source is newer than the last build (or there is none). */
export function isStale() {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((input) => newestMtime(join(ROOT, input)) > built);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const stale = isStale();
  if (process.argv.includes("--check")) console.log(stale ? "stale" : "fresh");
  else if (stale) {
    const build = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts/build.ts"), "--server-only"], {
      cwd: ROOT,
      stdio: "inherit",
    });
    process.exitCode = build.status ?? 1;
  }
}
