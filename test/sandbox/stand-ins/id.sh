# shellcheck shell=bash
# id -u | -un | -n -u | <user>: the sandbox's users (state/users).
sb_record
case "$*" in
  -u)
    sb_user_lookup "$SB_USER" || exit 1
    echo "$SB_UID"
    ;;
  -un | '-u -n' | '-n -u') echo "$SB_USER" ;;
  -* | '') sb_reject "the sandbox knows only: id -u | id -un | id <user>" ;;
  *)
    [ $# -eq 1 ] || sb_reject 'one user at a time'
    if ! sb_user_lookup "$1"; then
      echo "id: $1: no such user" >&2
      exit 1
    fi
    echo "uid=$SB_UID($1) gid=$SB_GID(staff) groups=$SB_GID(staff)"
    ;;
esac
