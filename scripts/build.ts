// `npm run build`: the server, CLI and SDK compiled to dist/ (tsc, with declaration files), the web console bundled
// (esbuild), the assets the compiled code reads copied beside it at the same relative paths, and the workspace
// packages (the SDK package, the CLI package) built. `--if-stale` (npm's prestart) builds the server alone (not the
// packages), and only when a source is newer than the build, so `npm start` does not wait for a build it does not need.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildConsole } from "../console/build.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(ROOT, "dist");
/** Written last: its time is the build's; it is absent after a failed build. */
const STAMP = join(DIST, ".built");
const INPUTS = ["src", "gen", "schema", "console/src", "package.json", "tsconfig.json", "tsconfig.build.json"];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

export function isStale(): boolean {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((input) => newestMtime(join(ROOT, input)) > built);
}

function run(command: string, args: string[], cwd = ROOT): void {
  execFileSync(command, args, { cwd, stdio: "inherit" });
}

export async function build({ packages = true } = {}): Promise<void> {
  const started = performance.now();
  rmSync(DIST, { recursive: true, force: true });
  run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"]);
  // dist/src/rpc/console-files.js serves ../../console/dist; dist/src/schema-file.js reads ../schema/default.yaml.
  await buildConsole(join(DIST, "console/dist"));
  cpSync(join(ROOT, "schema"), join(DIST, "schema"), { recursive: true });
  // The workspaces' own builds (the SDK package's tsc, the CLI's bundle).
  if (packages) run("npm", ["run", "build", "--workspaces", "--if-present", "--silent"]);
  mkdirSync(dirname(STAMP), { recursive: true });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  console.log(`built dist/, the console${packages ? " and the packages" : ""} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes("--if-stale");
  if (ifStale && !isStale()) process.exit(0);
  await build({ packages: !ifStale });
}
