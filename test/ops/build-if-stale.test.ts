// `npm start`'s staleness check (prestart: scripts/build-if-stale.mjs) is plain node: deciding that dist/ is current
// loads no module but its own — not tsx, not esbuild, not the build script — and it tells a source newer than the
// build from a current one. Run on a copy of the script in a scratch tree, so the repository's dist/ is left alone.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { expect, test } from "vitest";
import { REPO_ROOT } from "../helpers/child-server.js";
import { tempDir } from "../helpers/temp-dir.js";

const run = promisify(execFile);

/** A scratch tree with the script, a source file and a build stamp; returns its root. */
function scratchTree(): string {
  const root = tempDir("policy-prestart-");
  mkdirSync(join(root, "scripts"));
  copyFileSync(join(REPO_ROOT, "scripts/build-if-stale.mjs"), join(root, "scripts/build-if-stale.mjs"));
  mkdirSync(join(root, "src"));
  writeFileSync(join(root, "src/main.ts"), "export {};\n");
  mkdirSync(join(root, "dist"));
  writeFileSync(join(root, "dist/.built"), "built\n");
  const past = new Date(Date.now() - 60_000);
  utimesSync(join(root, "src/main.ts"), past, past);
  return root;
}

/** Runs the script with a loader hook that records every module node loads; returns its output and those modules. */
async function check(root: string, args: string[]): Promise<{ stdout: string; modules: string[] }> {
  const log = join(root, "modules.log");
  const hooks = join(root, "hooks.mjs");
  writeFileSync(
    hooks,
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + "\\n"); return next(url, context); }
`,
  );
  const register = join(root, "register.mjs");
  writeFileSync(register, `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  writeFileSync(log, "");
  const { stdout } = await run(process.execPath, ["--import", register, join(root, "scripts/build-if-stale.mjs"), ...args], { cwd: root });
  return { stdout, modules: readFileSync(log, "utf8").split("\n").filter(Boolean) };
}

test("prestart runs the check with plain node", () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
  expect(pkg.scripts.prestart).toBe("node scripts/build-if-stale.mjs");
});

test("a current build: the check says so and loads nothing but itself and node's own modules", async () => {
  const root = scratchTree();
  const fresh = await check(root, []);
  expect(fresh.stdout).toBe("");
  expect(fresh.modules.filter((url) => !url.startsWith("node:"))).toEqual([pathToFileURL(join(root, "scripts/build-if-stale.mjs")).href]);
  expect((await check(root, ["--check"])).stdout).toBe("fresh\n");
  rmSync(root, { recursive: true, force: true });
});

test("a source newer than the build, or no build at all, is stale", async () => {
  const root = scratchTree();
  const future = new Date(Date.now() + 60_000);
  utimesSync(join(root, "src/main.ts"), future, future);
  expect((await check(root, ["--check"])).stdout).toBe("stale\n");
  utimesSync(join(root, "src/main.ts"), new Date(0), new Date(0));
  expect((await check(root, ["--check"])).stdout).toBe("fresh\n");
  rmSync(join(root, "dist/.built"));
  expect((await check(root, ["--check"])).stdout).toBe("stale\n");
  rmSync(root, { recursive: true, force: true });
});
