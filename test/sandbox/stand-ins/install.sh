# shellcheck shell=bash
# install [-d] [-o <owner>] [-g <group>] [-m <mode>] <src> <dst> | -d <dir>...
# Copies (or creates directories) and applies the mode; the owner and group are recorded in
# state/owners (Debian has no wheel group). -o/-g need root, as on macOS.
sb_record
dirs=no owner='' group='' mode=0755
while [ $# -gt 0 ]; do
  case $1 in
    -d)
      dirs=yes
      shift
      ;;
    -o | -g | -m)
      [ $# -ge 2 ] || sb_reject "option requires an argument -- ${1#-}"
      case $1 in
        -o) owner=$2 ;;
        -g) group=$2 ;;
        -m) mode=$2 ;;
      esac
      shift 2
      ;;
    -*) sb_reject "unknown option $1 (the sandbox knows -d -o -g -m)" ;;
    *) break ;;
  esac
done
[[ $mode =~ ^[0-7]{3,4}$ ]] || sb_reject "invalid file mode: $mode"
if [ -n "$owner$group" ]; then
  if [ "$SB_USER" != root ]; then
    echo "install: ${owner:-$group}: Operation not permitted" >&2
    exit 1
  fi
fi
if [ -n "$owner" ] && ! sb_user_lookup "$owner"; then
  echo "install: unknown user $owner" >&2
  exit 67
fi
if [ -n "$group" ] && ! sb_group_exists "$group"; then
  echo "install: unknown group $group" >&2
  exit 67
fi
ownership="${owner:-$SB_USER}:${group:-staff}"
if [ "$dirs" = yes ]; then
  [ $# -ge 1 ] || sb_reject 'a directory is required'
  for d in "$@"; do
    mkdir -p "$d" && chmod "$mode" "$d" || exit 71
    sb_set_owner "$d" "$ownership"
  done
  exit 0
fi
[ $# -eq 2 ] || sb_reject 'the sandbox knows only: install [opts] <src> <dst>'
src=$1 dst=$2
[ -f "$src" ] || {
  echo "install: $src: No such file or directory" >&2
  exit 71
}
if [ -d "$dst" ]; then dst="$dst/${src##*/}"; fi
rm -f "$dst" && cp "$src" "$dst" && chmod "$mode" "$dst" || exit 71
sb_set_owner "$dst" "$ownership"
