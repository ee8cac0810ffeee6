// The zsh completion script, in zsh's own completion system (compsys): the command words typed so far (skipping
// option values) choose between the values of the option just typed, the command's options and the words that may
// come next, each offered with its description. It works sourced and as an autoloaded `_policy` in $fpath.
import { flagWords, valueCases, type Choice, type CompletionModel, type FlagModel } from "./model.js";
import { shellWords, shortHelp, singleQuoted } from "./words.js";

/** `_describe` items: `word:description`, single-quoted. */
function items(choices: readonly Choice[]): string {
  return choices.map((c) => singleQuoted(`${c.word}:${shortHelp(c.summary)}`)).join(" ");
}

function flagItems(flags: readonly FlagModel[]): string {
  return items(flags.flatMap((f) => flagWords([f]).map((word) => ({ word, summary: f.help }))));
}

export function zshScript(model: CompletionModel): string {
  const valueCase = valueCases(model)
    .map(([flags, values]) => {
      const offer =
        values === undefined
          ? "_message 'a value'"
          : values === "files"
            ? "_files"
            : `compadd -- ${shellWords(values.words)}`;
      return `    ${flags.join("|")}) ${offer}; return ;;`;
    })
    .join("\n");
  const flagCase = [...model.commandFlags]
    .map(([name, flags]) => `    ${singleQuoted(name)}) items+=(${flagItems(flags)}) ;;`)
    .join("\n");
  const wordCase = [...model.next]
    .map(([prefix, choices]) => `    ${singleQuoted(prefix)}) items=(${items(choices)}) ;;`)
    .join("\n");
  return `#compdef policy
# zsh completion for policy, made by \`policy completion zsh\` from its commands and the resource schema.
# Load it with: source <(policy completion zsh)   (or save it as _policy in a directory of $fpath)
_policy() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]} w cmd
  local -a cmdwords items
  local -a valueflags=(${shellWords(model.valueFlags)})
  local -i i skip=0
  # The command words so far: the words that are neither options nor an option's value.
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    if (( skip )); then skip=0; continue; fi
    case $w in
      --*=*) ;;
      -*) (( \${valueflags[(Ie)$w]} )) && skip=1 ;;
      *) cmdwords+=("$w") ;;
    esac
  done
  cmd=\${(j: :)cmdwords}
  case $prev in
${valueCase}
  esac
  if [[ $cur == -* ]]; then
    items=(${flagItems(model.globalFlags)})
    case $cmd in
${flagCase}
      '') items+=('--version:print the version') ;;
    esac
    _describe -t options 'policy option' items
    return
  fi
  case $cmd in
${wordCase}
    *) return 1 ;;
  esac
  _describe -t commands 'policy command' items
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _policy "$@"
else
  (( $+functions[compdef] )) || { autoload -U compinit && compinit }
  compdef _policy policy
fi
`;
}
