// `npm run build`: the server, CLI and SDK compiled to dist/ (tsc, with declaration files), the web console bundled
// (esbuild), the assets the compiled code reads copied beside it at the same relative paths, and the workspace
// packages (the SDK package, the CLI package) built. `--server-only` leaves the packages out: npm's prestart
// (build-if-stale.mjs, which decides without loading this file) builds that when a source is newer than the build.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildConsole } from "../console/build.js";
import { ROOT, STAMP } from "./build-if-stale.mjs";

export { isStale } from "./build-if-stale.mjs";

const DIST = join(ROOT, "dist");

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
  await build({ packages: !process.argv.includes("--server-only") });
}
