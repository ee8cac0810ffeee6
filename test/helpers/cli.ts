// Runs the `policy` CLI as a child process against a test server, with an environment that has no POLICY_* variables
// and no config file unless a test gives them: the run's bundle of the CLI (test/setup/cli-bundle.global.ts), or the
// sources through tsx (bin/policy.js) where no bundle was built.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/cli.js";
import { REPO_ROOT } from "./child-server.js";
import { tempDir } from "./temp-dir.js";

/** The CLI from its sources (tsx). */
export const SOURCE_BIN = join(REPO_ROOT, "bin/policy.js");
/** The CLI the tests run: the run's bundle when there is one. */
export const BIN = process.env.POLICY_TEST_CLI ?? SOURCE_BIN;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Standard input. */
  input?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The script to run (default BIN). */
  bin?: string;
}

/** A scratch directory that doubles as HOME and XDG_CONFIG_HOME, so no user config file is read. */
const scratch = tempDir("policy-cli-test-");

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("POLICY_")) env[k] = v;
  return { ...env, HOME: scratch, XDG_CONFIG_HOME: join(scratch, "config"), NO_COLOR: "1", ...extra };
}

/** Runs `policy ...args`; never rejects: the exit status is in `code`. */
export function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [options.bin ?? BIN, ...args],
      { cwd: REPO_ROOT, env: cleanEnv(options.env), timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin!.end(options.input ?? "");
  });
}

/** Runs `policy ...args` in-process through main() (fast: no child process), without a user config file. */
export async function runMain(argv: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { HOME: "/nonexistent", XDG_CONFIG_HOME: "/nonexistent" }, {
    stdout: (t) => void (stdout += `${t}\n`),
    stderr: (t) => void (stderr += `${t}\n`),
    stdin: async () => "",
    confirm: () => undefined,
  });
  return { code, stdout, stderr };
}

/** `cli` bound to a server URL (`--server URL` is appended). */
export function cliFor(url: string): (args: string[], options?: CliOptions) => Promise<CliResult> {
  return (args, options) => cli([...args, "--server", url], options);
}

/** Writes `text` to a new file in a scratch directory; returns its path. */
export function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(scratch, "f-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The rows of a table printed by the CLI, cells split on runs of two or more spaces. */
export function tableRows(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split("\n")
    .map((line) => line.trim().split(/\s{2,}/));
}
