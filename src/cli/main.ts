// `policy`: the command-line client of the policy service. bin/policy.js runs this file.
import { GLOBAL_OPTIONS, commandHelp, parseOptions, registerOptions, splitCommand, type OptionSpecs } from "./args.js";
import { COMMANDS, findCommand, GROUPS, isCommandPrefix } from "./commands/index.js";
import { Context, processIo, type Io } from "./context.js";
import { describeError, EXIT_OK, EXIT_USAGE, UsageError } from "./errors.js";
import { ResourceTypes } from "./resource-types.js";
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
  const { words, rest } = splitCommand(argv, isCommandPrefix);
  const command = findCommand(words);
  const typed = words.join(" ");
  if (!command) {
    const wantsHelp = rest.includes("--help") || rest.includes("-h");
    if (words.length > 0 && words[0]! in GROUPS && (wantsHelp || words.length === 1)) {
      (wantsHelp ? io.stdout : io.stderr)(overview(words[0]));
      return wantsHelp ? EXIT_OK : EXIT_USAGE;
    }
    if (wantsHelp && words.length === 0) {
      io.stdout(overview());
      return EXIT_OK;
    }
    const unknown = rest.find((a) => !a.startsWith("-"));
    io.stderr(
      unknown !== undefined
        ? `error: unknown command "${[...words, unknown].join(" ")}"\n${overview()}`
        : `error: a command is required\n${overview()}`,
    );
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
    ctx = new Context(typed, values, settings, ResourceTypes.load(settings.schema), io);
    return (await command.run(ctx)) ?? EXIT_OK;
  } catch (e) {
    const { text, exitCode } = describeError(e, { command: typed, server: ctx?.settings.server ?? DEFAULT_SERVER });
    io.stderr(text);
    return exitCode;
  } finally {
    ctx?.close();
  }
}

export { UsageError };

process.exitCode = await main(process.argv.slice(2));
