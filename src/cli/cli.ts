// `policy`: the command-line client of the policy service. `main` runs one command line; src/cli/main.ts calls it.
import { GLOBAL_OPTIONS, commandHelp, parseOptions, registerOptions, splitCommand, str, type OptionSpecs } from "./args.js";
import { BUILTINS, COMMANDS, findCommand, GROUPS, isCommandPrefix } from "./commands/index.js";
import { completionScript, SHELLS, type Shell } from "./completion.js";
import { Context, processIo, schemaOf, type Io } from "./context.js";
import { describeError, EXIT_OK, EXIT_USAGE, mayBeProtocolMismatch } from "./command-errors.js";
import { probePort } from "./probe.js";
import { DEFAULT_SERVER, loadSettings } from "./settings.js";
import { didYouMean } from "./suggest.js";
import { cliVersion } from "./version.js";

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
    "defaults come from ~/.config/policy/config.yaml (or POLICY_CONFIG): server, protocol, organization, token, ca,",
    "output, style. `-o anyscale` (or `style: anyscale`) prints Anyscale's shapes.",
    `Run \`policy help ${group ? `${group} ` : ""}COMMAND\` (or COMMAND --help) for a command's options,`,
    "`policy completion bash|zsh|fish` for shell completion, `policy --version` for the version.",
  ].join("\n");
}

/** The longest group `words` begin with (`sync consumers`, `sync`), if any. */
function groupOf(words: string[]): string | undefined {
  for (let n = words.length; n > 0; n--) {
    const name = words.slice(0, n).join(" ");
    if (name in GROUPS) return name;
  }
  return undefined;
}

/** The names that may follow `words` (a group's subcommands, or every first word), for "did you mean". */
function nextWords(words: string[]): string[] {
  const prefix = words.length === 0 ? "" : `${words.join(" ")} `;
  return COMMANDS.filter((c) => c.help.name.startsWith(prefix)).map((c) => c.help.name.slice(prefix.length).split(" ")[0]!);
}

/** `; did you mean "resources list"?` for `resources lst`: the whole command, as it is typed. */
function suggestCommand(known: string[], typed: string): string {
  const candidates = [...nextWords(known), ...(known.length === 0 ? BUILTINS : [])];
  return didYouMean(typed, candidates, (word) => `"${[...known, word].join(" ")}"`);
}

/** `policy help [COMMAND...]`: the overview, a group's, or a command's help. */
function help(words: string[], io: Io): number {
  const command = findCommand(words);
  if (command) {
    io.stdout(commandHelp(command.help, command.options));
    return EXIT_OK;
  }
  if (words.length === 0 || words.join(" ") in GROUPS) {
    io.stdout(overview(words.length === 0 ? undefined : words.join(" ")));
    return EXIT_OK;
  }
  const known = words.slice(0, -1);
  const last = words[words.length - 1]!;
  io.stderr(`error: unknown command "${words.join(" ")}"${suggestCommand(known, last)}\nrun \`policy help\` for the commands`);
  return EXIT_USAGE;
}

/** `policy completion SHELL [--schema FILE]`: the script, with the resource types of that schema (or POLICY_SCHEMA's). */
function completion(args: string[], env: NodeJS.ProcessEnv, io: Io): number {
  const [shell, ...rest] = args;
  if (!(SHELLS as readonly (string | undefined)[]).includes(shell)) {
    io.stderr(`error: policy completion takes ${SHELLS.join(", ")}${shell ? ` (got "${shell}")` : ""}\n` +
      "e.g. source <(policy completion bash) in ~/.bashrc, source <(policy completion zsh) in ~/.zshrc, " +
      "policy completion fish | source in ~/.config/fish/config.fish");
    return EXIT_USAGE;
  }
  try {
    const values = parseOptions(rest, {}, `completion ${shell}`);
    io.stdout(completionScript(shell as Shell, schemaOf(str(values, "schema") ?? (env.POLICY_SCHEMA || undefined))));
    return EXIT_OK;
  } catch (e) {
    const { text, exitCode } = describeError(e, { command: `completion ${shell}`, server: DEFAULT_SERVER });
    io.stderr(text);
    return exitCode;
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = processIo): Promise<number> {
  if (argv[0] === "help") return help(argv.slice(1), io);
  if (argv[0] === "completion") return completion(argv.slice(1), env, io);
  const { words, rest, stray } = splitCommand(argv, isCommandPrefix);
  const command = findCommand(words);
  const typed = words.join(" ");
  if (!command) {
    const group = groupOf(words);
    if (stray.length > 0) {
      const suggestion = suggestCommand(words, stray[0]!);
      io.stderr(`error: unknown command "${[...words, stray[0]].join(" ")}"${suggestion}\n${overview(group)}`);
      return EXIT_USAGE;
    }
    if (words.length === 0 && rest.includes("--version")) {
      io.stdout(`policy ${cliVersion()}`);
      return EXIT_OK;
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
    const values = parseOptions(rest, command.options as OptionSpecs, typed, command.arguments?.length ?? 0);
    if (values.help) {
      io.stdout(commandHelp(command.help, command.options));
      return EXIT_OK;
    }
    const settings = loadSettings(values, env, typed);
    ctx = new Context(typed, values, settings, schemaOf(settings.schema), io);
    return (await command.run(ctx)) ?? EXIT_OK;
  } catch (e) {
    const settings = ctx?.settings;
    // A failure that a protocol mismatch explains: ask the port what it speaks, to say so instead of a reset.
    const port = settings && mayBeProtocolMismatch(e) ? await probePort(settings.server) : undefined;
    const { text, exitCode } = describeError(e, { command: typed, server: settings?.server ?? DEFAULT_SERVER, protocol: settings?.protocol, port });
    io.stderr(text);
    return exitCode;
  } finally {
    ctx?.close();
  }
}
