// `policy`: the command-line client of the policy service. `main` runs one command line; src/cli/main.ts calls it.
import { GLOBAL_OPTIONS, commandHelp, parseOptions, registerOptions, splitCommand, type OptionSpecs } from "./args.js";
import { COMMANDS, findCommand, GROUPS, isCommandPrefix } from "./commands/index.js";
import { Context, processIo, schemaOf, type Io } from "./context.js";
import { describeError, EXIT_OK, EXIT_USAGE } from "./errors.js";
import { DEFAULT_SERVER, loadSettings } from "./settings.js";

registerOptions(GLOBAL_OPTIONS);
for (const c of COMMANDS) registerOptions(c.options);

const EXAMPLES = [
  "Examples:",
  "  policy set --resource-type cloud --resource-id cld_abc123 -f policy.yaml",
  "  policy get --resource-type organization -o yaml",
  "  policy add-binding --resource-type project --resource-id prj_xyz789 --role owner --member ada@example.com",
  "  policy list --resource-type cloud",
  "",
];

function overview(group?: string): string {
  const commands = COMMANDS.filter((c) => (group ? c.help.name.startsWith(`${group} `) : true));
  const width = Math.max(...commands.map((c) => c.help.name.length));
  return [
    group
      ? `policy ${group}: ${GROUPS[group]}`
      : "policy: manage the policies of the policy service (IAM-style role bindings on resources)",
    "",
    `Usage: policy ${group ? `${group} ` : ""}COMMAND [options]`,
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.help.name.padEnd(width)}  ${c.help.summary}`),
    "",
    ...(group ? [] : EXAMPLES),
    `Connection: --server (POLICY_SERVER, default ${DEFAULT_SERVER}), --protocol grpc|connect, --token, --ca;`,
    "defaults come from ~/.config/policy/config.yaml (or POLICY_CONFIG): server, protocol, organization, token, ca.",
    `Run \`policy ${group ? `${group} ` : ""}COMMAND --help\` for a command's options.`,
  ].join("\n");
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = processIo): Promise<number> {
  const { words, rest, stray } = splitCommand(argv, isCommandPrefix);
  const command = findCommand(words);
  const typed = words.join(" ");
  if (!command) {
    const group = words[0] !== undefined && words[0] in GROUPS ? words[0] : undefined;
    if (stray.length > 0) {
      io.stderr(`error: unknown command "${[...words, stray[0]].join(" ")}"\n${overview(group)}`);
      return EXIT_USAGE;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      io.stdout(overview(group));
      return EXIT_OK;
    }
    io.stderr(`error: ${group ? "a subcommand" : "a command"} is required\n${overview(group)}`);
    return EXIT_USAGE;
  }

  let ctx: Context | undefined;
  try {
    const values = parseOptions(rest, command.options as OptionSpecs, typed);
    if (values.help) {
      io.stdout(commandHelp(command.help, command.options));
      return EXIT_OK;
    }
    const settings = loadSettings(values, env, typed);
    ctx = new Context(typed, values, settings, schemaOf(settings.schema), io);
    return (await command.run(ctx)) ?? EXIT_OK;
  } catch (e) {
    const { text, exitCode } = describeError(e, { command: typed, server: ctx?.settings.server ?? DEFAULT_SERVER });
    io.stderr(text);
    return exitCode;
  } finally {
    ctx?.close();
  }
}
