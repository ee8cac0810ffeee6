# Prints, one a line, what bash's completion offers for a command line, with a completion script loaded:
#   bash --norc --noprofile bash-complete.bash SCRIPT 'policy get --resource-type '
# It calls the function the script registered with `complete -F` as bash does on TAB: with COMP_LINE, COMP_POINT,
# COMP_WORDS and COMP_CWORD set (the words split on blanks) and the command, the current and the previous word.
source "$1" || exit 3
line=$2
spec=$(complete -p policy) || exit 4
function=${spec##*-F }
function=${function%% *}
COMP_LINE=$line
COMP_POINT=${#line}
read -ra COMP_WORDS <<< "$line"
[[ "$line" == *[[:blank:]] ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMPREPLY=()
"$function" policy "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
(( ${#COMPREPLY[@]} )) && printf '%s\n' "${COMPREPLY[@]}"
exit 0
