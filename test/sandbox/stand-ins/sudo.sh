# shellcheck shell=bash
# sudo [-i] [-u <user> | -iu <user>] [--preserve-env=VAR,...] [--] <command> [args...]
# Runs the command without a privilege change, as the sandbox user it names (default root):
# a reset environment (sandbox plumbing plus --preserve-env), PW_SANDBOX_USER=<user>; -i also
# changes to the user's home. The command replaces this process (exec), like sudo's child.
sb_record
target=root login=no preserve=()
while [ $# -gt 0 ]; do
  case $1 in
    -u | -iu)
      [ $# -ge 2 ] || sb_reject "option requires an argument -- u"
      [ "$1" = -iu ] && login=yes
      target=$2
      shift 2
      ;;
    -i)
      login=yes
      shift
      ;;
    --preserve-env=*)
      IFS=, read -r -a more <<<"${1#--preserve-env=}"
      preserve+=("${more[@]}")
      shift
      ;;
    --)
      shift
      break
      ;;
    -*) sb_reject "unknown option $1 (the sandbox knows -i -u -iu --preserve-env=)" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || sb_reject 'a command is required'
if ! sb_user_lookup "$target"; then
  echo "sudo: unknown user $target" >&2
  exit 1
fi
sb_env_for "$target"
for v in ${preserve[@]+"${preserve[@]}"}; do
  if [ -n "${!v+x}" ]; then SB_ENV+=("$v=${!v}"); fi
done
if [ "$login" = yes ]; then
  cd "$(sb_home "$target")" 2>/dev/null || cd "$SB_ROOT" || exit 1
fi
exec env -i "${SB_ENV[@]}" "$@"
