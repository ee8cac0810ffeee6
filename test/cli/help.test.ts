// `--help` on every command and usage errors: in-process through main() (fast), plus the real bin once.
import { expect, test } from "vitest";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { cli, runMain as run, SOURCE_BIN } from "../helpers/cli.js";

test("bin/policy.js runs the CLI (tsx registered): --help lists every command", async () => {
  const top = await cli(["--help"], { bin: SOURCE_BIN });
  expect(top.code).toBe(0);
  expect(top.stderr).toBe("");
  for (const c of COMMANDS) expect(top.stdout).toContain(`  ${c.help.name} `);
});

test("--help (and -h) on every command prints its usage, its options and the global options", async () => {
  for (const c of COMMANDS) {
    for (const flag of ["--help", "-h"]) {
      const h = await run([...c.help.name.split(" "), flag]);
      expect(h.code, c.help.name).toBe(0);
      expect(h.stderr).toBe("");
      expect(h.stdout).toMatch(new RegExp(`^policy ${c.help.name}: `));
      expect(h.stdout).toContain(`Usage:\n  policy ${c.help.name} `);
      for (const option of Object.keys(c.options)) expect(h.stdout).toContain(`--${option}`);
      expect(h.stdout).toContain("Global options:");
      expect(h.stdout).toContain("--server URL");
      // A repeatable option says so once (the help line adds it; an option's own text must not repeat it).
      expect(h.stdout, c.help.name).not.toMatch(/\(repeatable\)\s*\(repeatable\)/);
      for (const [option, spec] of Object.entries(c.options)) {
        if (spec.multiple) expect(h.stdout, `${c.help.name} --${option}`).toMatch(new RegExp(`--${option} .*\\(repeatable\\)`));
      }
    }
  }
  const group = await run(["resources", "--help"]);
  expect(group.code).toBe(0);
  expect(group.stdout).toContain("resources move");
  expect(group.stdout).not.toContain("add-binding");
});

test("watch --help lists every change kind of the generated enum", async () => {
  const { ChangeKindSchema } = await import("../../gen/policy/v1/watch_service_pb.js");
  const help = (await run(["watch", "--help"])).stdout;
  const kinds = ChangeKindSchema.values.map((v) => v.name.replace(/^CHANGE_KIND_/, "")).filter((k) => k !== "UNSPECIFIED");
  expect(kinds.length).toBeGreaterThan(6);
  for (const kind of kinds) expect(help, kind).toMatch(new RegExp(`[ ,]${kind}[ ,\n]`));
});

test("global options may come before the command", async () => {
  const h = await run(["--server", "http://127.0.0.1:1", "-o", "json", "get", "--help"]);
  expect(h.code).toBe(0);
  expect(h.stdout).toMatch(/^policy get: /);
});

test("usage errors exit 2 with a message and a pointer to --help; nothing reaches stdout", async () => {
  const cases: [string[], RegExp][] = [
    [[], /^error: a command is required\n/],
    [["frobnicate"], /^error: unknown command "frobnicate"\n/],
    [["resources"], /^error: a subcommand is required\npolicy resources: /],
    [["resources", "frob"], /^error: unknown command "resources frob"\npolicy resources: /],
    // The suggestion is the whole command, not its last word.
    [["resources", "lst"], /^error: unknown command "resources lst"; did you mean "resources list"\?\n/],
    [["--server", "http://x", "frob"], /^error: unknown command "frob"/],
    [["get", "stray", "--resource-type", "cloud"], /^error: unexpected argument "stray"/],
    [["get", "--bogus"], /^error: unknown option --bogus\nrun `policy get --help` for usage/],
    [["get", "stray"], /^error: unexpected argument "stray"/],
    [["get"], /^error: --resource-type is required \(organization, cloud, project, shared_policy\)/],
    [["get", "--resource-type", "cloud"], /^error: --resource-id is required with --resource-type cloud/],
    [["get", "--resource-type", "planet", "--resource-id", "x"], /^error: unknown resource type "planet"; known types: organization, cloud, project/],
    [["get", "--resource-type", "organization", "--resource-id", "acme"], /^error: --resource-id cannot be used with --resource-type organization/],
    [["get", "--resource", "clouds/x", "--resource-type", "cloud"], /^error: give either --resource NAME or --resource-type/],
    [["get", "--resource-type", "cloud", "--resource-id", "x", "-o", "xml"], /^error: --output must be table, json, yaml or anyscale/],
    [["get", "--resource-type", "cloud", "--resource-id", "x", "--protocol", "http3"], /^error: --protocol must be grpc or connect/],
    [["get", "--resource-type", "cloud", "--resource-id", "x", "--server", "localhost:8080"], /^error: --server must be an http:\/\/ or https:\/\/ URL/],
    [["set", "--resource-type", "cloud", "--resource-id", "x"], /^error: --file is required \(-f, --config-file\)\nrun `policy set --help`/],
    [["resources", "move", "--resource-type", "cloud", "--resource-id", "x"], /^error: --parent is required\nrun `policy resources move --help`/],
    [["check", "--resource-type", "cloud", "--resource-id", "x"], /^error: --permission is required/],
    [["remove-binding", "--resource-type", "cloud", "--resource-id", "x", "--role", "r", "--member", "m", "--all", "--condition", "true"], /^error: give --condition or --all, not both/],
  ];
  for (const [argv, message] of cases) {
    const result = await run(argv);
    expect(result.code, argv.join(" ")).toBe(2);
    expect(result.stdout, argv.join(" ")).toBe("");
    expect(result.stderr, argv.join(" ")).toMatch(message);
  }
});
