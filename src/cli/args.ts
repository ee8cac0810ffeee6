// Command-line parsing: the options every command shares, per-command options, and help text (node:util parseArgs).
import { parseArgs } from "node:util";
import { UsageError } from "./command-errors.js";
import { didYouMean } from "./suggest.js";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in help, e.g. FILE. */
  value?: string;
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type Values = Record<string, string | boolean | string[] | undefined>;

/** Options every command accepts (connection, output, help). */
export const GLOBAL_OPTIONS: OptionSpecs = {
  server: {
    type: "string",
    value: "URL",
    help: "the policy server (env POLICY_SERVER, config `server`; default http://127.0.0.1:8080)",
  },
  protocol: {
    type: "string",
    value: "grpc|connect",
    help: "wire protocol (env POLICY_PROTOCOL, config `protocol`; default grpc)",
  },
  token: { type: "string", value: "TOKEN", help: "bearer token sent with every call (env POLICY_TOKEN, config `token`)" },
  ca: {
    type: "string",
    value: "FILE",
    help: "PEM certificate(s) to trust for an https server (env POLICY_CA, config `ca`)",
  },
  cert: {
    type: "string",
    value: "FILE",
    help: "PEM client certificate, for a server that authenticates clients by certificate (env POLICY_CERT)",
  },
  key: { type: "string", value: "FILE", help: "PEM private key of --cert (env POLICY_KEY)" },
  organization: {
    type: "string",
    value: "ID",
    help: "the current organization (env POLICY_ORGANIZATION, config `organization`; default: the only one there is)",
  },
  schema: {
    type: "string",
    value: "FILE",
    help: "resource schema YAML, to map resource types to names (env POLICY_SCHEMA; default built in)",
  },
  output: {
    type: "string",
    short: "o",
    value: "FORMAT",
    help: "table, json or yaml (default table; env POLICY_OUTPUT, config `output`); anyscale: Anyscale's table",
  },
  format: { type: "string", value: "FORMAT", help: "the same as --output" },
  style: {
    type: "string",
    value: "iam|anyscale",
    help: "shapes of get, list and set: IAM's (default) or Anyscale's (env POLICY_STYLE, config `style`)",
  },
  help: { type: "boolean", short: "h", help: "show this help" },
};

/** How a command names the resource it acts on. */
export const RESOURCE_OPTIONS: OptionSpecs = {
  "resource-type": { type: "string", value: "TYPE", help: "a type of the resource schema (a mistyped one is answered with the list)" },
  "resource-id": { type: "string", value: "ID", help: "the resource's id, e.g. cld_abc123 (not for organizations)" },
  resource: { type: "string", value: "NAME", help: "the resource's full name instead, e.g. clouds/cld_abc123" },
};

export interface CommandHelp {
  /** e.g. `add-binding` or `resources create`. */
  name: string;
  summary: string;
  /** Usage lines after `policy {name} `. */
  usage: string[];
  /** More paragraphs: semantics, examples. */
  details?: string[];
}

/**
 * Splits argv into the command words (positionals for which `isCommand` holds, e.g. `resources`, `create`) and the
 * rest (options and their values, in order), so that global options may come before or after the command.
 * The command words end at the first positional that is not one.
 */
export function splitCommand(
  argv: string[],
  isCommand: (words: string[]) => boolean,
): { words: string[]; rest: string[]; stray: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  /** Positionals that are not command words (also left in `rest`). */
  const stray: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith("-") && arg !== "-") {
      rest.push(arg);
      if (takesValue(arg) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    if (stray.length === 0 && isCommand([...words, arg])) words.push(arg);
    else {
      rest.push(arg);
      stray.push(arg);
    }
  }
  return { words, rest, stray };
}

/** Whether `arg` (an option without `=value`) is one whose value is the next argument. */
function takesValue(arg: string): boolean {
  if (arg.includes("=")) return false;
  if (arg.startsWith("--")) return STRING_OPTION_NAMES.has(arg.slice(2));
  // Short options: -o, -f (a value glued on, as in -ojson, needs no next argument).
  return arg.length === 2 && STRING_SHORT_NAMES.has(arg.slice(1));
}

const STRING_OPTION_NAMES = new Set<string>();
const STRING_SHORT_NAMES = new Set<string>();

/** Makes the options of every command known to `splitCommand`, so that their values are not taken for commands. */
export function registerOptions(specs: OptionSpecs): void {
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.type !== "string") continue;
    STRING_OPTION_NAMES.add(name);
    if (spec.short) STRING_SHORT_NAMES.add(spec.short);
  }
}

/**
 * Parses the options of one command (its own and the global ones); a problem is a UsageError. `argumentCount`: how
 * many positional arguments the command takes (in `values._`, a list).
 */
export function parseOptions(args: string[], specs: OptionSpecs, command: string, argumentCount = 0): Values {
  const all = { ...GLOBAL_OPTIONS, ...specs };
  const options = Object.fromEntries(
    Object.entries(all).map(([name, s]) => [
      name,
      { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    if (positionals.length > argumentCount) throw new UsageError(`unexpected argument "${positionals[argumentCount]}"`, command);
    return argumentCount > 0 ? { ...(values as Values), _: positionals } : (values as Values);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const message = ((e as Error).message ?? String(e)).split("\n")[0]!;
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (!unknown) throw new UsageError(message, command);
    const flags = Object.keys(all).map((name) => `--${name}`);
    const typed = unknown[1]!.split("=")[0]!;
    throw new UsageError(`unknown option ${unknown[1]}${didYouMean(typed, flags, (f) => f)}`, command);
  }
}

function optionLines(specs: OptionSpecs): string[] {
  const rows = Object.entries(specs).map(([name, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : "    "}--${name}${s.value ? ` ${s.value}` : ""}`;
    return [flag, `${s.help}${s.multiple ? " (repeatable)" : ""}`] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`);
}

export function commandHelp(help: CommandHelp, specs: OptionSpecs): string {
  return [
    `policy ${help.name}: ${help.summary}`,
    "",
    "Usage:",
    ...help.usage.map((u) => `  policy ${help.name} ${u}`),
    ...(help.details && help.details.length > 0 ? ["", ...help.details] : []),
    ...(Object.keys(specs).length > 0 ? ["", "Options:", ...optionLines(specs)] : []),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
  ].join("\n");
}

/** One string value of a parsed option. */
export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/** Every value of a repeatable option. */
export function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

/** A required string option; a UsageError naming it when missing. */
export function required(values: Values, name: string, command: string): string {
  const v = str(values, name);
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`, command);
  return v;
}
