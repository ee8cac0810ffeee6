# Prints, one a line, what zsh's completion offers for a command line, with a completion script loaded:
#   zsh -f zsh-capture.zsh SCRIPT 'policy get --resource-type '
# An interactive zsh runs on a pseudo-terminal (zsh/zpty) with the completion system (compinit) and SCRIPT sourced; the
# line is typed and completed with TAB. compadd, through which every completion function offers its matches, is
# wrapped to print the matches that survive its own matching (compadd -A); errors the shell prints are kept too.
zmodload zsh/zpty || exit 3
local script=$1 line=$2 init=${TMPDIR:-/tmp}/zsh-capture-$$.zsh
cat >$init <<'INIT'
PROMPT='' RPROMPT=''
unsetopt zle_bracketed_paste 2>/dev/null
autoload -U compinit && compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
bindkey '^I' complete-word
# Typed after TAB: zle runs one key's widget to its end before it reads the next key, so this comes after the
# completion whatever it did (offered matches, or failed with an error).
__capture_done() { print -r -- '<<end>>'; exit }
zle -N __capture_done
bindkey '^Y' __capture_done
compadd() {
  # Calls that only compute (-O, -A, -D) are passed through; the others offer matches: print those that match.
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a __matches
  builtin compadd -A __matches "$@"
  (( $#__matches )) && print -rl -- "<match>"${^__matches}
  builtin compadd "$@"
}
print -r -- '<<ready>>'
INIT
print -r -- "source ${(q)script}" >>$init
zpty capture zsh -f -i
zpty -w capture "source ${(q)init}; print -r -- '<<sourced>>'"
local out chunk
while zpty -r capture chunk; do
  out+=$chunk
  [[ $out == *'<<sourced>>'* ]] && break
done
zpty -w -n capture "$line"$'\t\x19'
out=''
while zpty -r capture chunk; do
  out+=$chunk
  [[ $out == *'<<end>>'* ]] && break
done
zpty -d capture
rm -f $init
# The matches, without the terminal's carriage returns; anything else the shell printed (an error) as it came.
local l
for l in ${(f)out//$'\r'/}; do
  # A match's line may follow the typed line's echo without a line break: take what follows the marker.
  [[ $l == *'<match>'* ]] && print -r -- ${l##*<match>}
  [[ $l == *_policy:* || $l == *'command not found'* ]] && print -r -- "error: $l"
done
exit 0
