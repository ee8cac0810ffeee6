// `policy completion bash|zsh`: a completion script made from the command table, so it never lags behind it.
// zsh runs the bash function through bashcompinit.
import { GLOBAL_OPTIONS } from "./args.js";
import type { Command } from "./commands/command.js";

/** The words that may follow `policy` and the built-in commands that are not in the table. */
const BUILTINS = ["help", "completion"];

function flagsOf(specs: Record<string, { short?: string }>): string[] {
  return Object.entries(specs).flatMap(([name, s]) => [`--${name}`, ...(s.short ? [`-${s.short}`] : [])]);
}

export function bashCompletion(commands: readonly Command[], groups: Record<string, string>): string {
  const global = flagsOf(GLOBAL_OPTIONS).join(" ");
  const top = [...new Set([...commands.map((c) => c.help.name.split(" ")[0]!), ...BUILTINS])].sort().join(" ");
  // Longer names first: `resources delete` must match before a one-word command could.
  const byLength = [...commands].sort((a, b) => b.help.name.split(" ").length - a.help.name.split(" ").length);
  const commandCases = byLength
    .map((c) => `    *" ${c.help.name} "*) opts="${flagsOf(c.options).join(" ")} ${global}" ;;`)
    .join("\n");
  const groupCases = Object.keys(groups)
    .map((g) => {
      const subcommands = commands.filter((c) => c.help.name.startsWith(`${g} `)).map((c) => c.help.name.split(" ")[1]);
      return `    *" ${g} "*) words="${subcommands.join(" ")}" ;;`;
    })
    .join("\n");
  return `# bash completion for policy; load it with: source <(policy completion bash)
_policy() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local line=" \${COMP_WORDS[*]:1:COMP_CWORD-1} " opts="" words=""
  case "$prev" in
    -f|--file|--config-file|--ca|--cert|--key|--schema) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -o|--output|--format) COMPREPLY=($(compgen -W "table json yaml anyscale" -- "$cur")); return ;;
    --style) COMPREPLY=($(compgen -W "iam anyscale" -- "$cur")); return ;;
    --protocol) COMPREPLY=($(compgen -W "grpc connect" -- "$cur")); return ;;
    --resource-type) COMPREPLY=($(compgen -W "organization cloud project" -- "$cur")); return ;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
  esac
  case "$line" in
${commandCases}
  esac
  if [[ -n "$opts" ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  case "$line" in
${groupCases}
    *" help "*) words="${top}" ;;
    *) words="${top}" ;;
  esac
  if [[ "$cur" == -* ]]; then words="${global} --version"; fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _policy policy
`;
}

export function zshCompletion(commands: readonly Command[], groups: Record<string, string>): string {
  return `# zsh completion for policy; load it with: source <(policy completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(commands, groups)}`;
}
