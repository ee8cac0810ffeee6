// What a shell needs to complete `policy` — the words that may come next, each command's options, the values an option
// takes (resource types, roles and permissions from the resource schema; change kinds from the generated enum) —
// gathered once from the command table; bash.ts, zsh.ts and fish.ts write it in each shell's language.
import { SyncStatus } from "../../../gen/policy/v1/policy_pb.js";
import type { ResourceSchema } from "../../schema/schema.js";
import { GLOBAL_OPTIONS, type OptionSpec, type OptionSpecs } from "../args.js";
import type { Command } from "../commands/command.js";
import { CHANGE_KINDS } from "../commands/watch.js";
import { OUTPUT_FORMATS } from "../settings.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** What an option's value completes to: these words, file names, or nothing (free text: a URL, an id). */
export type ValueCompletion = { words: readonly string[] } | "files" | undefined;

export interface FlagModel {
  /** `--resource-type`; `short` is `o` for `-o`. */
  long: string;
  short?: string;
  help: string;
  takesValue: boolean;
  values: ValueCompletion;
}

export interface Choice {
  word: string;
  summary: string;
}

export interface CompletionModel {
  /** The words that may follow the command words typed so far, by those words joined with spaces ("" at the top). */
  next: ReadonlyMap<string, readonly Choice[]>;
  /** Each command's own options, by its name (`resources delete`). */
  commandFlags: ReadonlyMap<string, readonly FlagModel[]>;
  /** The options every command takes. */
  globalFlags: readonly FlagModel[];
  /** Every option that takes a value (`--server`, `-o`): a word after one is its value, not a command word. */
  valueFlags: readonly string[];
  /** The values of every option that takes some, by `--long` and `-short`. */
  flagValues: ReadonlyMap<string, ValueCompletion>;
}

/** The values an option takes, from its placeholder in help (FILE, TYPE, grpc|connect ...). */
function valuesOf(spec: OptionSpec, schema: ResourceSchema): ValueCompletion {
  if (spec.type !== "string") return undefined;
  const roles = [...new Set([...schema.types.values()].flatMap((t) => [...t.roles.keys()]))].sort();
  switch (spec.value) {
    case "FILE":
      return "files";
    case "TYPE":
      return { words: [...schema.types.keys()] };
    case "FORMAT":
      return { words: OUTPUT_FORMATS };
    case "KIND":
      return { words: CHANGE_KINDS };
    case "STATUS":
      return { words: syncStatuses() };
    case "ROLE":
      // Bare names are the predefined roles too (`owner` is `roles/owner`).
      return { words: [...roles.map((r) => r.replace(/^roles\//, "")), ...roles] };
    case "PERMISSION":
      return { words: [...schema.permissions].sort() };
  }
  return spec.value?.includes("|") ? { words: spec.value.split("|") } : undefined;
}

function syncStatuses(): string[] {
  return Object.entries(SyncStatus)
    .filter(([name, value]) => typeof value === "number" && value !== SyncStatus.UNSPECIFIED && name !== "UNSPECIFIED")
    .map(([name]) => name.toLowerCase());
}

function flagsOf(specs: OptionSpecs, schema: ResourceSchema): FlagModel[] {
  return Object.entries(specs).map(([long, spec]) => ({
    long,
    ...(spec.short ? { short: spec.short } : {}),
    // A type's description names the schema's types, as the server loads them: the help text cannot know them.
    help: spec.value === "TYPE" ? `a resource type: ${[...schema.types.keys()].join(", ")}` : spec.help,
    takesValue: spec.type === "string",
    values: valuesOf(spec, schema),
  }));
}

/** Two completions of one option (the same flag in two commands): the words of both, or files if either is. */
function merge(a: ValueCompletion, b: ValueCompletion): ValueCompletion {
  if (a === "files" || b === "files") return "files";
  if (!a || !b) return a ?? b;
  return { words: [...new Set([...a.words, ...b.words])] };
}

export function completionModel(
  commands: readonly Command[],
  groups: Record<string, string>,
  builtins: readonly Choice[],
  schema: ResourceSchema,
): CompletionModel {
  const next = new Map<string, Choice[]>();
  const add = (prefix: string, choice: Choice) => {
    const choices = next.get(prefix) ?? next.set(prefix, []).get(prefix)!;
    if (!choices.some((c) => c.word === choice.word)) choices.push(choice);
  };
  for (const c of commands) {
    const words = c.help.name.split(" ");
    words.forEach((word, i) => {
      const prefix = words.slice(0, i).join(" ");
      const summary = i === words.length - 1 ? c.help.summary : (groups[words.slice(0, i + 1).join(" ")] ?? "");
      add(prefix, { word, summary });
      // `policy help resources delete` names the same commands.
      add(["help", ...words.slice(0, i)].join(" "), { word, summary });
    });
  }
  for (const b of builtins) add("", b);
  for (const shell of SHELLS) add("completion", { word: shell, summary: `the ${shell} completion script` });

  const globalFlags = flagsOf(GLOBAL_OPTIONS, schema);
  const commandFlags = new Map(commands.map((c) => [c.help.name, flagsOf(c.options, schema)] as const));
  const flagValues = new Map<string, ValueCompletion>();
  for (const flag of [...globalFlags, ...[...commandFlags.values()].flat()]) {
    if (!flag.takesValue) continue;
    for (const name of [`--${flag.long}`, ...(flag.short ? [`-${flag.short}`] : [])]) {
      flagValues.set(name, merge(flagValues.get(name), flag.values));
    }
  }
  return { next, commandFlags, globalFlags, valueFlags: [...flagValues.keys()].sort(), flagValues };
}

/** `set -f` etc.: the options a command's words complete to, its own and the global ones, as `--long` and `-s`. */
export function flagWords(flags: readonly FlagModel[]): string[] {
  return flags.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]);
}

/** The value completions grouped by what they offer, for a `case` over the previous word: [flags, completion]. */
export function valueCases(model: CompletionModel): [string[], ValueCompletion][] {
  const byOffer = new Map<string, [string[], ValueCompletion]>();
  for (const [flag, values] of model.flagValues) {
    const key = values === undefined ? "none" : values === "files" ? "files" : `w:${values.words.join(" ")}`;
    const entry = byOffer.get(key) ?? byOffer.set(key, [[], values]).get(key)!;
    entry[0].push(flag);
  }
  return [...byOffer.values()];
}
