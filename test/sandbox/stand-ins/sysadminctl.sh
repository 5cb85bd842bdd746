# shellcheck shell=bash
# sysadminctl -addUser <name> [-fullName <s>] [-password <s>] [-home <path>] [-shell <path>]
# [-UID <n>]: root only; adds the user to state/users (no home directory is created).
sb_record
sb_need_root
[ "${1:-}" = -addUser ] && [ $# -ge 2 ] || sb_reject 'the sandbox knows only -addUser <name> ...'
name=$2
shift 2
uid=''
while [ $# -gt 0 ]; do
  case $1 in
    -fullName | -password | -home | -shell | -UID)
      [ $# -ge 2 ] || sb_reject "$1 needs a value"
      [ "$1" = -UID ] && uid=$2
      shift 2
      ;;
    *) sb_reject "unknown option $1" ;;
  esac
done
if sb_user_lookup "$name"; then
  echo "sysadminctl: user $name already exists" >&2
  exit 1
fi
if [ -z "$uid" ]; then
  uid=502
  while read -r _ u _; do
    if [ "$u" -ge "$uid" ]; then uid=$((u + 1)); fi
  done <"$SB_STATE/users"
fi
printf '%s %s 20\n' "$name" "$uid" >>"$SB_STATE/users"
echo "Creating user record for $name"
