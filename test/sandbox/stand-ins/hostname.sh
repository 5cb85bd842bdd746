# shellcheck shell=bash
# hostname [<name>]: prints or (root) sets the sandbox hostname.
sb_record
case $# in
  0) cat "$SB_STATE/hostname" ;;
  1)
    case $1 in -*) sb_reject "unknown option $1" ;; esac
    sb_need_root
    printf '%s\n' "$1" >"$SB_STATE/hostname"
    ;;
  *) sb_reject 'usage: hostname [name]' ;;
esac
