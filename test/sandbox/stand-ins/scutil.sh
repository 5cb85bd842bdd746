# shellcheck shell=bash
# scutil --set <HostName|ComputerName|LocalHostName> <value> (root) | --get <key>.
sb_record
case ${1:-} in
  --set)
    [ $# -eq 3 ] || sb_reject 'usage: scutil --set <key> <value>'
    case $2 in HostName | ComputerName | LocalHostName) ;; *) sb_reject "unknown preference $2" ;; esac
    sb_need_root
    printf '%s\n' "$3" >"$SB_STATE/scutil-$2"
    ;;
  --get)
    [ $# -eq 2 ] || sb_reject 'usage: scutil --get <key>'
    if [ -f "$SB_STATE/scutil-$2" ]; then cat "$SB_STATE/scutil-$2"; else
      echo "$2: not set"
      exit 1
    fi
    ;;
  *) sb_reject 'the sandbox knows only --set and --get' ;;
esac
