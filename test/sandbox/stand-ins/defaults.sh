# shellcheck shell=bash
# defaults write <domain> <key> -bool true|false (root for /Library paths) | read <domain> <key>.
sb_record
case ${1:-} in
  write)
    [ $# -eq 5 ] && [ "$4" = -bool ] && { [ "$5" = true ] || [ "$5" = false ]; } ||
      sb_reject 'the sandbox knows only: defaults write <domain> <key> -bool true|false'
    case $2 in "$SB_ROOT"/Library/*) sb_need_root ;; esac
    printf '%s %s %s\n' "$2" "$3" "$5" >>"$SB_STATE/defaults"
    ;;
  read)
    [ $# -eq 3 ] || sb_reject 'usage: defaults read <domain> <key>'
    v=''
    while read -r d k val; do
      if [ "$d" = "$2" ] && [ "$k" = "$3" ]; then v=$val; fi
    done <"$SB_STATE/defaults"
    [ -n "$v" ] || {
      echo "The domain/default pair of ($2, $3) does not exist" >&2
      exit 1
    }
    [ "$v" = true ] && echo 1 || echo 0
    ;;
  *) sb_reject 'the sandbox knows only write and read' ;;
esac
