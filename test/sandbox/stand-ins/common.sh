# shellcheck shell=bash
# Prelude of every sandbox stand-in (test code: runs on Linux only, bash 5). The sandbox writes
# each stand-in as: a shebang, SB_BASE=<sandbox dir> and SB_TOOL=<name>, this file, the tool.
# Every call appends one JSON line {tool, user, argv[, stdin]} to $SB_STATE/stand-ins.jsonl;
# unknown flags are rejected (stderr message, exit 64).
set -uo pipefail

SB_ROOT="$SB_BASE/root"
SB_STATE="$SB_BASE/state"
SB_LOG="$SB_STATE/stand-ins.jsonl"
SB_USER="${PW_SANDBOX_USER:-ec2-user}"
SB_ARGV=("$@")

# JSON string literal of $1 into SB_JSON.
sb_json() {
  local s=$1 out='' c i
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  if [[ $s == *[[:cntrl:]]* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ $c == [[:cntrl:]] ]]; then
        printf -v c '\\u%04x' "'$c"
      fi
      out+=$c
    done
    s=$out
  fi
  SB_JSON="\"$s\""
}

# Append this call to the log; $1 = extra JSON members (optional, without a leading comma).
sb_record() {
  local a items=() line
  for a in ${SB_ARGV[@]+"${SB_ARGV[@]}"}; do
    sb_json "$a"
    items+=("$SB_JSON")
  done
  sb_json "$SB_USER"
  line="{\"tool\":\"$SB_TOOL\",\"user\":$SB_JSON,\"argv\":[$(
    IFS=,
    printf '%s' "${items[*]-}"
  )]${1:+,$1}}"
  printf '%s\n' "$line" >>"$SB_LOG"
}

sb_reject() {
  printf '%s: %s\n' "$SB_TOOL" "$*" >&2
  exit 64
}

sb_need_root() {
  if [ "$SB_USER" != root ]; then
    printf '%s: must be run as root (sandbox user is %s)\n' "$SB_TOOL" "$SB_USER" >&2
    exit 1
  fi
}

# Users: "name uid gid" lines in $SB_STATE/users. SB_UID/SB_GID of $1.
# shellcheck disable=SC2034 # SB_UID/SB_GID are read by the tools
sb_user_lookup() {
  local n u g
  while read -r n u g; do
    if [ "$n" = "$1" ]; then
      SB_UID=$u
      SB_GID=$g
      return 0
    fi
  done <"$SB_STATE/users"
  return 1
}

sb_group_exists() {
  case $1 in
    wheel | staff | admin | everyone) return 0 ;;
  esac
  return 1
}

# Home directory of a sandbox user.
sb_home() {
  if [ "$1" = root ]; then printf '%s/var/root' "$SB_ROOT"; else printf '%s/Users/%s' "$SB_ROOT" "$1"; fi
}

# Record the owner of a path: "<path>\t<inode>\t<user>:<group>" lines (the last one wins; a
# record whose inode no longer matches the file is stale). The mv stand-in follows renames.
sb_set_owner() {
  local inode
  inode=$(stat -c %i "$1" 2>/dev/null) || inode=0
  {
    flock 9
    printf '%s\t%s\t%s\n' "$1" "$inode" "$2" >>"$SB_STATE/owners"
  } 9>>"$SB_STATE/owners.lock"
}

# The environment a privilege change keeps: sandbox plumbing plus the named variables.
sb_env_for() {
  local user=$1 v
  SB_ENV=("PATH=$PATH" "PW_SANDBOX_USER=$user" "HOME=$(sb_home "$user")" "USER=$user" "LOGNAME=$user"
    "SHELL=/bin/zsh")
  for v in $(compgen -e); do
    case $v in
      PW_POOL_*) SB_ENV+=("$v=${!v}") ;;
    esac
  done
}
