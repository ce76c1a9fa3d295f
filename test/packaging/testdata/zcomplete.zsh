# zsh -f zcomplete.zsh DIR LINE: print, one per line, the matches zsh's
# completion offers for LINE (typed, then Tab) with the functions in DIR
# first in $fpath. It drives an interactive zsh on a pseudo-terminal and
# records what compadd receives. The completion runs in a widget that
# prints a mark when it is done, and the driver waits for the mark before
# it types more: keys typed while a completion runs can abort it.
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PS1='> '; bindkey -e; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D; setopt nobeep"
zpty -w z 'compadd() { local -a m; local k=@M; k+=@; builtin compadd -O m "$@"; print -rn -- " ${(j: :)${(@)m/#/$k}} " >/dev/tty; builtin compadd "$@" }'
zpty -w z 'complete-and-mark() { zle complete-word; local k=DONE; k+=-MARK; print -rn -- " $k " >/dev/tty }; zle -N complete-and-mark; bindkey "^X^T" complete-and-mark'
zpty -w z "print -r -- R''EADY-MARK"
zpty -r z out '*READY-MARK*' || exit 4
zpty -w -n z "$2"$'\C-x\C-t'
zpty -r z out '*DONE-MARK*' || exit 4
zpty -w -n z $'\C-e\C-u'
zpty -w z "print -r -- E''ND-MARK"
zpty -r z rest '*END-MARK*' || exit 4
zpty -d z
print -r -- ${out//$'\r'/} | grep -o '@M@[^ [:cntrl:]]*' | sed 's/^@M@//' | sort -u
