# bash completion for redis-vip. The binary answers (urfave/cli's own
# completion): `redis-vip __complete WORD... [CUR] --generate-bash-completion`
# prints the commands, a command's flags, or after --instance the instance
# names of the configuration the line names. Nothing offered: file names.
_redis_vip() {
    local cur=${COMP_WORDS[COMP_CWORD]} w i
    local -a ask=()
    # COMP_WORDBREAKS splits --flag=value into --flag, =, value: the binary
    # gets --flag value.
    [[ $cur == = ]] && cur=
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        [[ $w == = ]] || ask+=("$w")
    done
    [[ $cur == -* ]] && ask+=("$cur")
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __complete "${ask[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o bashdefault -o default -F _redis_vip redis-vip
