# shellcheck shell=bash
# arch -arch x86_64 <command> [args]: runs it once Rosetta is installed, else fails.
sb_record
[ "${1:-}" = -arch ] && [ "${2:-}" = x86_64 ] && [ $# -ge 3 ] ||
  sb_reject 'the sandbox knows only: arch -arch x86_64 <command> [args]'
shift 2
if [ ! -e "$SB_STATE/rosetta" ]; then
  echo "arch: posix_spawnp: $1: Bad CPU type in executable" >&2
  exit 1
fi
exec "$@"
