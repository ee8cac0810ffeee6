// `policy completion bash|zsh|fish`: each script is loaded into its real shell, which is asked what it offers for a
// command line — bash by calling the registered function as TAB does, zsh through its completion system on a
// pseudo-terminal (test/cli/shells/zsh-capture.zsh), fish with `complete -C`. The offers come from the command table,
// the resource schema (a custom one included) and the generated enums.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, test, vi } from "vitest";
import { ChangeKindSchema } from "../../gen/policy/v1/watch_service_pb.js";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { loadSchema } from "../../src/schema-file.js";
import { REPO_ROOT } from "../helpers/child-server.js";
import { tempDir } from "../helpers/temp-dir.js";
import { runMain, tempFile } from "../helpers/cli.js";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const run = promisify(execFile);
const SHELLS = join(REPO_ROOT, "test/cli/shells");

/** A folder to complete file names in. */
let cwd: string;
beforeAll(() => {
  cwd = tempDir("policy-completion-");
  writeFileSync(join(cwd, "policy.yaml"), "bindings: []\n");
  writeFileSync(join(cwd, "plan.txt"), "\n");
});

type Shell = "bash" | "zsh" | "fish";

/** The command that asks `shell` what it offers for `line` with `script` loaded. */
const DRIVERS: Record<Shell, (script: string, line: string) => [string, string[]]> = {
  bash: (script, line) => ["bash", ["--norc", "--noprofile", join(SHELLS, "bash-complete.bash"), script, line]],
  zsh: (script, line) => ["zsh", ["-f", join(SHELLS, "zsh-capture.zsh"), script, line]],
  fish: (script, line) => ["fish", ["--no-config", "-c", "source $argv[1]; complete -C -- $argv[2]", script, line]],
};

/** The words `shell` offers for `line` with `script` loaded (fish's descriptions left out), in its order. */
async function offered(shell: Shell, script: string, line: string): Promise<string[]> {
  const [file, args] = DRIVERS[shell](script, line);
  const { stdout, stderr } = await run(file, args, { cwd, timeout: 60_000 });
  expect(stderr, `${shell}: ${line}`).toBe("");
  const words = stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]!);
  expect(words.filter((w) => w.startsWith("error:")), `${shell}: ${line}`).toEqual([]);
  return words;
}

/** The completion script for `shell`, written to a file; `args` are more arguments (--schema FILE). */
async function script(shell: Shell, args: string[] = []): Promise<string> {
  const result = await runMain(["completion", shell, ...args]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return tempFile(`policy.${shell}`, result.stdout);
}

const sorted = (words: string[]) => [...new Set(words)].sort();
const topWords = sorted([...COMMANDS.map((c) => c.help.name.split(" ")[0]!), "help", "completion"]);
const kinds = ChangeKindSchema.values.map((v) => v.name.replace(/^CHANGE_KIND_/, "")).filter((k) => k !== "UNSPECIFIED");

describe.each(["bash", "zsh", "fish"] as const)("%s", (shell) => {
  let file: string;
  beforeAll(async () => {
    file = await script(shell);
  });

  test("commands, a group's subcommands, and help's", async () => {
    expect(sorted(await offered(shell, file, "policy "))).toEqual(topWords);
    expect(await offered(shell, file, "policy resources de")).toEqual(["delete"]);
    const resources = COMMANDS.filter((c) => c.help.name.startsWith("resources ")).map((c) => c.help.name.split(" ")[1]!);
    expect(sorted(await offered(shell, file, "policy help resources "))).toEqual(sorted(resources));
    expect(sorted(await offered(shell, file, "policy completion "))).toEqual(["bash", "fish", "zsh"]);
    // Options before the command and their values (a URL, with its colons) are not taken for command words.
    expect(await offered(shell, file, "policy --server http://127.0.0.1:8080 -o json resources de")).toEqual(["delete"]);
  });

  test("a command's options and the global ones", async () => {
    expect(await offered(shell, file, "policy resources delete --cas")).toEqual(["--cascade"]);
    const flags = await offered(shell, file, "policy set --");
    for (const flag of ["--config-file", "--etag", "--no-overwrite", "--force", "--resource-type", "--server", "--output"]) {
      expect(flags, flag).toContain(flag);
    }
    expect(flags).not.toContain("--cascade");
  });

  test("option values: resource types from the schema, formats, change kinds, roles, files", async () => {
    const types = [...loadSchema(undefined).types.keys()];
    expect(sorted(await offered(shell, file, "policy get --resource-type "))).toEqual(sorted(types));
    expect(sorted(await offered(shell, file, "policy get -o "))).toEqual(["anyscale", "json", "table", "yaml"]);
    expect(sorted(await offered(shell, file, "policy watch --kind "))).toEqual(sorted(kinds));
    expect(await offered(shell, file, "policy add-binding --role own")).toEqual(["owner"]);
    expect(await offered(shell, file, "policy set -f pol")).toEqual(["policy.yaml"]);
  });

  test("the resource types of a custom schema (--schema), none hard-coded", async () => {
    const schema = tempFile(
      "teams.yaml",
      [
        "types:",
        "  organization:",
        "    collection: organizations",
        "    roles:",
        "      roles/owner:",
        "        permissions: [organizations.get, groups.get]",
        "  team:",
        "    collection: groups",
        "    parents: [organization]",
        "    roles:",
        "      roles/member:",
        "        permissions: [groups.get]",
        "",
      ].join("\n"),
    );
    const custom = await script(shell, ["--schema", schema]);
    expect(sorted(await offered(shell, custom, "policy list --resource-type "))).toEqual(["organization", "team"]);
    expect(sorted(await offered(shell, custom, "policy check --permission "))).toEqual(["groups.get", "organizations.get"]);
    // Nor in the descriptions: a type option is described with the schema's types, and no text names the default's.
    const text = readFileSync(custom, "utf8");
    if (shell !== "bash") expect(text).toContain("a resource type: organization, team");
    expect(text).not.toMatch(/\b(cloud|project)\b/);
  });
});

test("completion with an unknown shell is a usage error naming the three", async () => {
  const result = await runMain(["completion", "tcsh"]);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/^error: policy completion takes bash, zsh, fish \(got "tcsh"\)/);
});
