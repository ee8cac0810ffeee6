// The fish completion script: `complete` rules, each guarded by the command words typed so far (found by
// __policy_command, which skips option values), with descriptions; an option's values follow it (-x -a), files for FILE.
import type { CompletionModel, FlagModel, ValueCompletion } from "./model.js";
import { shellWords, shortHelp, singleQuoted } from "./words.js";

function flagRule(flag: FlagModel, condition: string): string {
  const names = `${flag.short ? `-s ${flag.short} ` : ""}-l ${flag.long}`;
  return `complete -c policy${condition} ${names}${valueOptions(flag.takesValue, flag.values)} -d ${singleQuoted(shortHelp(flag.help))}`;
}

/** `-x -a 'words'` (a value from these), `-r -F` (a file), `-x` (a value, nothing to offer), or nothing (a switch). */
function valueOptions(takesValue: boolean, values: ValueCompletion): string {
  if (!takesValue) return "";
  if (values === "files") return " -r -F";
  if (values === undefined) return " -x";
  return ` -x -a ${singleQuoted(shellWords(values.words))}`;
}

/** The rule's condition: the command words typed so far are `command` (plain words, so double quotes hold them). */
const when = (command: string) => ` -n '__policy_is "${shellWords(command.split(" ").filter(Boolean))}"'`;

export function fishScript(model: CompletionModel): string {
  const words = [...model.next].flatMap(([prefix, choices]) =>
    choices.map((c) => `complete -c policy${when(prefix)} -a ${c.word} -d ${singleQuoted(shortHelp(c.summary))}`),
  );
  const global = model.globalFlags.map((f) => flagRule(f, ""));
  const own = [...model.commandFlags].flatMap(([name, flags]) => flags.map((f) => flagRule(f, when(name))));
  return `# fish completion for policy, made by \`policy completion fish\` from its commands and the resource schema.
# Load it with: policy completion fish | source   (or save it as ~/.config/fish/completions/policy.fish)
function __policy_command --description 'the command words of the policy command line so far'
    set -l valueflags ${shellWords(model.valueFlags)}
    set -l words
    set -l skip 0
    for w in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--*=*'
            case '-*'
                contains -- $w $valueflags; and set skip 1
            case '*'
                set -a words $w
        end
    end
    string join ' ' -- $words
end

function __policy_is --argument-names command
    set -l typed (__policy_command)
    test "$typed" = "$command"
end

complete -c policy -f
${words.join("\n")}
complete -c policy${when("")} -l version -d 'print the version'
${global.join("\n")}
${own.join("\n")}
`;
}
