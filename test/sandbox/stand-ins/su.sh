# shellcheck shell=bash
# su - <user> [-c <command>]: root only; a login environment for <user>, then bash -c / bash -l.
sb_record
sb_need_root
[ "${1:-}" = - ] || sb_reject 'the sandbox knows only: su - <user> [-c <command>]'
shift
[ $# -ge 1 ] || sb_reject 'a user is required'
target=$1
shift
if ! sb_user_lookup "$target"; then
  echo "su: unknown login: $target" >&2
  exit 1
fi
command=''
if [ $# -gt 0 ]; then
  [ "$1" = -c ] && [ $# -eq 2 ] || sb_reject 'the sandbox knows only: su - <user> [-c <command>]'
  command=$2
fi
sb_env_for "$target"
cd "$(sb_home "$target")" 2>/dev/null || cd "$SB_ROOT" || exit 1
if [ -n "$command" ]; then
  exec env -i "${SB_ENV[@]}" /bin/bash -c "$command"
fi
exec env -i "${SB_ENV[@]}" /bin/bash -l
