# shellcheck shell=bash
# pgrep / pkill: only this sandbox's processes (PW_POOL_ROOT=<root> in their environment), the
# user being the one sudo/su recorded (PW_SANDBOX_USER, default ec2-user). Flags: -u <user>,
# -f, -P <ppid>, -q (pgrep), -<signal> (pkill); a pattern needs -f. Exit 0 match, 1 none, 2 usage.
sb_record
user='' full=no parent='' quiet=no signal=TERM pattern='' have_pattern=no
while [ $# -gt 0 ]; do
  case $1 in
    -u | -P)
      [ $# -ge 2 ] || sb_reject "option requires an argument -- ${1#-}"
      if [ "$1" = -u ]; then user=$2; else parent=$2; fi
      shift 2
      ;;
    -f)
      full=yes
      shift
      ;;
    -q)
      [ "$SB_TOOL" = pgrep ] || sb_reject "illegal option -- q"
      quiet=yes
      shift
      ;;
    -TERM | -INT | -KILL | -HUP | -15 | -9 | -2 | -1)
      [ "$SB_TOOL" = pkill ] || sb_reject "illegal option -- ${1#-}"
      signal=${1#-}
      shift
      ;;
    --)
      shift
      break
      ;;
    -*) sb_reject "illegal option $1 (the sandbox knows -u -f -P -q -SIGNAL)" ;;
    *) break ;;
  esac
done
[ $# -le 1 ] || sb_reject 'only one pattern may be given'
if [ $# -eq 1 ]; then
  pattern=$1
  have_pattern=yes
  [ "$full" = yes ] || sb_reject 'the sandbox matches patterns only with -f'
fi
if [ -z "$user$parent" ] && [ "$have_pattern" = no ]; then
  echo "$SB_TOOL: no matching criteria specified" >&2
  exit 2
fi
if [ -n "$user" ] && ! sb_user_lookup "$user"; then
  echo "$SB_TOOL: invalid user name: $user" >&2
  exit 2
fi
if [ "$have_pattern" = yes ]; then
  rc=0
  # shellcheck disable=SC2319 # rc 2 = invalid regex
  [[ '' =~ $pattern ]] || rc=$?
  if [ "$rc" -eq 2 ]; then
    echo "$SB_TOOL: invalid regular expression: $pattern" >&2
    exit 2
  fi
fi

matched=()
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [ "$pid" = "$$" ] && continue
  proot='' puser=''
  {
    while IFS= read -r -d '' kv; do
      case $kv in
        PW_POOL_ROOT=*) proot=${kv#PW_POOL_ROOT=} ;;
        PW_SANDBOX_USER=*) puser=${kv#PW_SANDBOX_USER=} ;;
      esac
    done <"$d/environ"
  } 2>/dev/null || continue
  [ "$proot" = "$SB_ROOT" ] || continue
  puser=${puser:-ec2-user}
  if [ -n "$user" ] && [ "$puser" != "$user" ]; then continue; fi
  if [ -n "$parent" ]; then
    stat=''
    { IFS= read -r stat <"$d/stat"; } 2>/dev/null || continue
    rest=${stat##*) }
    read -r _state ppid _ <<<"$rest"
    [ "$ppid" = "$parent" ] || continue
  fi
  if [ "$have_pattern" = yes ]; then
    args=()
    { while IFS= read -r -d '' a; do args+=("$a"); done <"$d/cmdline"; } 2>/dev/null || continue
    [ "${#args[@]}" -gt 0 ] || continue
    cmd="${args[*]}"
    [[ $cmd =~ $pattern ]] || continue
  fi
  if [ "$SB_TOOL" = pkill ]; then
    if [ "$SB_USER" != root ] && [ "$puser" != "$SB_USER" ]; then
      echo "pkill: kill($pid): Operation not permitted" >&2
      continue
    fi
    kill -s "$signal" "$pid" 2>/dev/null || continue
  fi
  matched+=("$pid")
done
if [ "$SB_TOOL" = pgrep ] && [ "$quiet" = no ] && [ "${#matched[@]}" -gt 0 ]; then
  printf '%s\n' "${matched[@]}"
fi
[ "${#matched[@]}" -gt 0 ]
