# shellcheck shell=bash
# mv [-f] <src> <dst>: the real mv, then the ownership records of <src> move to <dst>.
sb_record
force=()
if [ "${1:-}" = -f ]; then
  force=(-f)
  shift
fi
case ${1:-} in -*) sb_reject "unknown option $1 (the sandbox knows only: mv [-f] src dst)" ;; esac
[ $# -eq 2 ] || sb_reject 'the sandbox knows only: mv [-f] src dst'
src=${1%/} dst=${2%/}
if [ -d "$dst" ] && [ ! -d "$src" ]; then dst="$dst/${src##*/}"; fi
/bin/mv ${force[@]+"${force[@]}"} -- "$src" "$dst" || exit $?
exec 9>>"$SB_STATE/owners.lock"
flock 9
tmp="$SB_STATE/owners.tmp.$$"
while IFS=$'\t' read -r path inode owner; do
  case $path in
    "$src") path=$dst ;;
    "$src"/*) path=$dst${path#"$src"} ;;
  esac
  printf '%s\t%s\t%s\n' "$path" "$inode" "$owner"
done <"$SB_STATE/owners" >"$tmp"
/bin/mv -f "$tmp" "$SB_STATE/owners"
