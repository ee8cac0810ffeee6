// The bash completion script: a function that finds the command words typed so far (skipping option values), then
// offers the values of the option just typed, the options of the command, or the words that may come next.
import { flagWords, valueCases, type CompletionModel } from "./model.js";
import { shellWords } from "./words.js";

export function bashScript(model: CompletionModel): string {
  const global = flagWords(model.globalFlags);
  const valueCase = valueCases(model)
    .map(([flags, values]) => {
      const offer =
        values === undefined
          ? "COMPREPLY=()"
          : values === "files"
            ? 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))'
            : `COMPREPLY=($(compgen -W "${shellWords(values.words)}" -- "$cur"))`;
      return `    ${flags.join("|")}) ${offer}; return ;;`;
    })
    .join("\n");
  const flagCase = [...model.commandFlags]
    .map(([name, flags]) => `    "${name}") flags+=" ${shellWords(flagWords(flags))}" ;;`)
    .join("\n");
  const wordCase = [...model.next]
    .map(([prefix, choices]) => `    "${prefix}") words="${shellWords(choices.map((c) => c.word))}" ;;`)
    .join("\n");
  return `# bash completion for policy, made by \`policy completion bash\` from its commands and the resource schema.
# Load it with: source <(policy completion bash)   (or add that line to ~/.bashrc)
_policy() {
  # The line up to the cursor, split on blanks only: bash's COMP_WORDS also splits on : and =, as in http://host.
  local line="\${COMP_LINE:0:COMP_POINT}" cur="\${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" w i n skip=0
  local -a typed
  read -ra typed <<< "$line"
  [[ -z "$line" || "$line" == *[[:blank:]] ]] && typed+=("")
  n=\${#typed[@]}
  (( n > 1 )) && prev="\${typed[n-2]}"
  # The command words so far: the words that are neither options nor an option's value.
  for (( i = 1; i < n - 1; i++ )); do
    w="\${typed[i]}"
    if (( skip )); then skip=0; continue; fi
    case "$w" in
      --*=*) ;;
      -*) case " ${shellWords(model.valueFlags)} " in *" $w "*) skip=1 ;; esac ;;
      *) cmd="\${cmd:+$cmd }$w" ;;
    esac
  done
  case "$prev" in
${valueCase}
  esac
  if [[ "$cur" == -* ]]; then
    local flags="${shellWords(global)}"
    case "$cmd" in
${flagCase}
      "") flags+=" --version" ;;
    esac
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  local words=""
  case "$cmd" in
${wordCase}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _policy policy
`;
}
