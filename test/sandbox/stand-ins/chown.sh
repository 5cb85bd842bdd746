# shellcheck shell=bash
# chown <user>[:<group>] <path>...: root only; recorded in state/owners.
sb_record
sb_need_root
case ${1:-} in
  -*) sb_reject "unknown option $1 (the sandbox knows only: chown user[:group] path...)" ;;
esac
[ $# -ge 2 ] || sb_reject 'usage: chown user[:group] path...'
spec=$1
shift
user=${spec%%:*}
group=staff
case $spec in *:*) group=${spec#*:} ;; esac
sb_user_lookup "$user" || {
  echo "chown: $user: illegal user name" >&2
  exit 1
}
sb_group_exists "$group" || {
  echo "chown: $group: illegal group name" >&2
  exit 1
}
for p in "$@"; do
  [ -e "$p" ] || {
    echo "chown: $p: No such file or directory" >&2
    exit 1
  }
  sb_set_owner "$p" "$user:$group"
done
