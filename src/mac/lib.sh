# shellcheck shell=bash
# shellcheck disable=SC2034 # a library: it sets PW_* globals for its callers
#
# lib.sh: functions shared by the installed scripts and the remote operations.
# Definitions only: sourcing it (or concatenating it after paths.sh) runs nothing.
# Target: /bin/bash 3.2 on macOS and bash 5 on Debian; only the commands and flags listed in
# src/mac/README.md. Results go into PW_* globals instead of $(...) where a subshell would lose
# state (the IMDS token) or cost a fork in a loop.

if [ "${PW_LIB_LOADED:-}" != "$$" ]; then
  PW_LIB_LOADED=$$

  PW_NL='
'
  PW_INSTALLED_SET='paths.sh lib.sh setup.sh service_pool.sh shutdown.sh ci_env.sh cleanup_hook.sh'

  PW_RE_NAME='^[A-Za-z0-9]+-[0-9]+$'
  PW_RE_UINT='^[1-9][0-9]*$'
  PW_RE_EPOCH='^[0-9]+$'
  PW_RE_LABEL='^[a-z0-9]+: ?[A-Za-z0-9-]+$'
  PW_RE_TAP='^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$'
  PW_RE_FORMULA='^[A-Za-z0-9][A-Za-z0-9_.@+-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.@+-]*)?$'
  PW_RE_URL='^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)*$'
  PW_RE_ORG='^[A-Za-z0-9][A-Za-z0-9-]{0,38}$'
  PW_RE_GROUP='^[A-Za-z0-9][A-Za-z0-9-]{0,62}$'
  PW_RE_VERSION='^[0-9]+[.][0-9]+[.][0-9]+$'
  PW_RE_ENVPAIR='^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_./:@%+=~-]*$'
  PW_RE_LABELS='^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$'
  PW_RE_SECRET='^[A-Za-z0-9._~+/=:-]+$'

  # ---------------------------------------------------------------- time and logging

  # UTC timestamp, YYYY-MM-DDTHH:MM:SS+00:00.
  pw_ts() { date -u +%Y-%m-%dT%H:%M:%S+00:00; }

  # Epoch seconds.
  pw_now() { date -u +%s; }

  # A message line for setup.log (stdout of the installed scripts).
  pw_log() { printf '##### %s\n' "$*"; }

  # A diagnostic on stderr (the operations' stdout carries only the key=value reply).
  pw_diag() { printf '##### %s\n' "$*" >&2; }

  # Hours of a duration with up to two decimals (7200 -> 2, 5400 -> 1.5, 60 -> 0.01).
  pw_hours() {
    local h=$(($1 / 3600)) c=$((($1 % 3600) * 100 / 3600))
    if [ "$c" -eq 0 ]; then
      printf '%s' "$h"
    elif [ $((c % 10)) -eq 0 ]; then
      printf '%s.%s' "$h" "$((c / 10))"
    elif [ "$c" -lt 10 ]; then
      printf '%s.0%s' "$h" "$c"
    else
      printf '%s.%s' "$h" "$c"
    fi
  }

  # ---------------------------------------------------------------- replies of the operations

  # One key=value line; control characters in the value become spaces.
  pw_kv() {
    local v="${2-}"
    v=${v//[[:cntrl:]]/ }
    printf '%s=%s\n' "$1" "$v"
  }

  # The sentinel line that ends every complete reply.
  pw_end() { printf 'pw-pool-%s=end\n' "$1"; }

  # Refuse an operation: error=<one line>, the sentinel, exit 3.
  pw_refuse() {
    local op=$1
    shift
    pw_kv error "$*"
    pw_end "$op"
    exit 3
  }

  # ---------------------------------------------------------------- validation

  # pw_re <value> <ERE>: whole-value regular expression test (bash's =~ is POSIX ERE).
  pw_re() { [[ $1 =~ $2 ]]; }

  pw_has_cntrl() {
    case $1 in
      *[[:cntrl:]]*) return 0 ;;
    esac
    return 1
  }

  pw_valid_kind() { [ "$1" = cirrus ] || [ "$1" = github-actions ]; }
  pw_valid_name() { pw_re "$1" "$PW_RE_NAME"; }
  pw_valid_uint() { pw_re "$1" "$PW_RE_UINT"; }

  # A pattern handed to pgrep/pkill/grep: non-empty, one line, no leading '-', a valid ERE.
  pw_valid_pattern() {
    local rc=0
    [ -n "$1" ] || return 1
    pw_has_cntrl "$1" && return 1
    case $1 in -*) return 1 ;; esac
    # shellcheck disable=SC2319 # rc 2 = the ERE does not compile
    [[ '' =~ $1 ]] || rc=$?
    [ "$rc" -ne 2 ]
  }

  # Escape a literal string (a path) for use inside an ERE.
  pw_ere_escape() {
    local s=$1 out='' c specials='.[]\^$*+?(){}|'
    while [ -n "$s" ]; do
      c=${s:0:1}
      s=${s:1}
      case $specials in
        *"$c"*) out="$out\\$c" ;;
        *) out="$out$c" ;;
      esac
    done
    printf '%s' "$out"
  }

  # Parse and validate setup.sh's key=value arguments (PROTOCOL.md, start-setup) for <kind>.
  # Sets PW_ARG_*; on failure returns 1 with PW_ARG_ERROR (never echoing a value back).
  pw_parse_setup_args() {
    local kind=$1 a key val w
    local -a words
    shift
    PW_ARG_LABEL='' PW_ARG_TAPS='' PW_ARG_FORMULAS='' PW_ARG_DRAIN=7200 PW_ARG_URL=''
    PW_ARG_ORG='' PW_ARG_GROUP='' PW_ARG_VERSION='' PW_ARG_RUNNERENV='' PW_ARG_LABELS=''
    PW_ARG_ERROR=''
    for a in "$@"; do
      case $a in
        *=*) key=${a%%=*} val=${a#*=} ;;
        *)
          PW_ARG_ERROR='setup arguments must be key=value words'
          return 1
          ;;
      esac
      if pw_has_cntrl "$val"; then
        PW_ARG_ERROR="setup argument '$key' contains control characters"
        return 1
      fi
      case $key in
        label)
          pw_re "$val" "$PW_RE_LABEL" || {
            PW_ARG_ERROR="setup argument 'label' must match $PW_RE_LABEL"
            return 1
          }
          PW_ARG_LABEL=$val
          ;;
        taps | formulas)
          words=()
          read -r -a words <<<"$val" || true
          for w in ${words[@]+"${words[@]}"}; do
            if [ "$key" = taps ]; then
              pw_re "$w" "$PW_RE_TAP" || {
                PW_ARG_ERROR="invalid tap name in 'taps'"
                return 1
              }
            else
              pw_re "$w" "$PW_RE_FORMULA" || {
                PW_ARG_ERROR="invalid formula name in 'formulas'"
                return 1
              }
            fi
          done
          if [ "$key" = taps ]; then PW_ARG_TAPS=$val; else PW_ARG_FORMULAS=$val; fi
          ;;
        drain)
          pw_valid_uint "$val" || {
            PW_ARG_ERROR="setup argument 'drain' must be an integer >= 1"
            return 1
          }
          PW_ARG_DRAIN=$val
          ;;
        url)
          pw_re "$val" "$PW_RE_URL" || {
            PW_ARG_ERROR="setup argument 'url' must match $PW_RE_URL"
            return 1
          }
          PW_ARG_URL=$val
          ;;
        org)
          pw_re "$val" "$PW_RE_ORG" || {
            PW_ARG_ERROR="setup argument 'org' must match $PW_RE_ORG"
            return 1
          }
          PW_ARG_ORG=$val
          ;;
        group)
          pw_re "$val" "$PW_RE_GROUP" || {
            PW_ARG_ERROR="setup argument 'group' must match $PW_RE_GROUP"
            return 1
          }
          PW_ARG_GROUP=$val
          ;;
        version)
          pw_re "$val" "$PW_RE_VERSION" || {
            PW_ARG_ERROR="setup argument 'version' must match $PW_RE_VERSION"
            return 1
          }
          PW_ARG_VERSION=$val
          ;;
        labels)
          pw_re "$val" "$PW_RE_LABELS" || {
            PW_ARG_ERROR="setup argument 'labels' must match $PW_RE_LABELS"
            return 1
          }
          PW_ARG_LABELS=$val
          ;;
        runnerenv)
          words=()
          IFS=, read -r -a words <<<"$val" || true
          for w in ${words[@]+"${words[@]}"}; do
            pw_re "$w" "$PW_RE_ENVPAIR" || {
              PW_ARG_ERROR="invalid KEY=VALUE pair in 'runnerenv'"
              return 1
            }
          done
          PW_ARG_RUNNERENV=$val
          ;;
        *)
          PW_ARG_ERROR="unknown setup argument '$key'"
          return 1
          ;;
      esac
    done
    if [ "$kind" = cirrus ] && [ -z "$PW_ARG_LABEL" ]; then
      PW_ARG_ERROR="agent 'cirrus' needs the setup argument 'label'"
      return 1
    fi
    if [ "$kind" = github-actions ]; then
      for key in url org group version; do
        case $key in
          url) val=$PW_ARG_URL ;;
          org) val=$PW_ARG_ORG ;;
          group) val=$PW_ARG_GROUP ;;
          version) val=$PW_ARG_VERSION ;;
        esac
        if [ -z "$val" ]; then
          PW_ARG_ERROR="agent 'github-actions' needs the setup argument '$key'"
          return 1
        fi
      done
    fi
    return 0
  }

  # ---------------------------------------------------------------- names and agents

  pw_worker_of() { printf '%s-worker' "$1"; }
  pw_worker_log() { printf '%s/%s-worker.log' "$PW_TMP" "$1"; }
  pw_worker_home() { printf '%s/%s' "$PW_USERS" "$1"; }
  pw_runner_dir() { printf '%s/%s/actions-runner' "$PW_USERS" "$1"; }

  # The patterns setup.sh and the supervisor use (the manager passes the same ones to the ops).
  pw_agent_listener_pattern() {
    case $1 in
      cirrus) printf '%s' 'cirrus worker run' ;;
      github-actions) printf '%s' 'Runner.Listener' ;;
    esac
  }
  pw_agent_job_pattern() {
    case $1 in
      cirrus) printf '%s' 'cirrus-[0-9][^ ]*-darwin-arm64 agent ' ;;
      github-actions) printf '%s' 'Runner.Worker' ;;
    esac
  }
  # <L> of behavior.md §7.
  pw_agent_label() {
    case $1 in
      cirrus) printf '%s' 'Cirrus worker listener' ;;
      github-actions) printf '%s' 'GitHub Actions runner' ;;
    esac
  }

  # pw_agent_config_present <kind> <worker>: the agent config exists. The runner directory
  # belongs to the worker (0750), so github-actions looks through sudo.
  pw_agent_config_present() {
    case $1 in
      cirrus) [ -f "$PW_CIRRUS_CFG" ] ;;
      github-actions)
        pw_user_exists "$2" || return 1
        sudo test -f "$(pw_runner_dir "$2")/.runner"
        ;;
      *) return 1 ;;
    esac
  }

  # pw_agent_config_remove <kind> <worker>: remove the agent config (sudo rm -f).
  pw_agent_config_remove() {
    local dir
    case $1 in
      cirrus) sudo rm -f "$PW_CIRRUS_CFG" ;;
      github-actions)
        dir=$(pw_runner_dir "$2")
        sudo rm -f "$dir/.runner" "$dir/.credentials"
        ;;
    esac
  }

  # ---------------------------------------------------------------- files

  # The private directory: a real directory owned by us with mode exactly 0700. find's
  # -user/-perm behave the same on BSD and GNU, unlike stat's flags.
  pw_priv_ok() {
    local hit
    if [ ! -d "$PW_PRIV" ] || [ -L "$PW_PRIV" ]; then return 1; fi
    hit=$(find "$PW_PRIV" -maxdepth 0 -user "$(id -u)" -perm 700 -print 2>/dev/null) || return 1
    [ -n "$hit" ]
  }

  # First line of a file into PW_LINE (empty when missing or empty).
  pw_read_line() {
    PW_LINE=''
    [ -r "$1" ] || return 1
    IFS= read -r PW_LINE <"$1" || true
    return 0
  }

  # Write <value> and a newline to <file> via a temp file in the same directory and a rename.
  pw_put() {
    local tmp
    tmp="${1%/*}/.${1##*/}.tmp.$$"
    printf '%s\n' "$2" >"$tmp"
    mv -f "$tmp" "$1"
  }

  # Inode, size and mtime of a file into PW_STAT_INODE/SIZE/MTIME. GNU stat has -c, BSD stat
  # has -f (and rejects -c), so the first form that works is used.
  pw_file_stat() {
    local out rest
    PW_STAT_INODE='' PW_STAT_SIZE='' PW_STAT_MTIME=''
    out=$(stat -c '%i %s %Y' "$1" 2>/dev/null) || out=$(stat -f '%i %z %m' "$1" 2>/dev/null) || return 1
    PW_STAT_INODE=${out%% *}
    rest=${out#* }
    PW_STAT_SIZE=${rest%% *}
    PW_STAT_MTIME=${rest#* }
    pw_re "$PW_STAT_INODE $PW_STAT_SIZE $PW_STAT_MTIME" '^[0-9]+ [0-9]+ [0-9]+$'
  }

  # pw_log_count <file> <ERE> [<first N lines>]: number of lines that match after losing ANSI
  # SGR sequences and a trailing CR; each line counts once (grep -c). Fails on a grep error.
  pw_log_count() {
    local esc cr n
    esc=$(printf '\033')
    cr=$(printf '\r')
    if [ -n "${3:-}" ]; then
      n=$(head -n "$3" "$1" | LC_ALL=C sed -e "s/${esc}\\[[0-9;]*m//g" -e "s/${cr}\$//" |
        LC_ALL=C grep -a -E -c -e "$2") || true
    else
      n=$(LC_ALL=C sed -e "s/${esc}\\[[0-9;]*m//g" -e "s/${cr}\$//" "$1" |
        LC_ALL=C grep -a -E -c -e "$2") || true
    fi
    pw_re "$n" "$PW_RE_EPOCH" || return 1
    printf '%s' "$n"
  }

  # ---------------------------------------------------------------- processes

  pw_user_exists() { id "$1" >/dev/null 2>&1; }

  # The full command line of a pid (empty when there is no such process).
  pw_cmdline() { ps -ww -p "$1" -o command= 2>/dev/null || true; }

  pw_pid_exists() { ps -p "$1" >/dev/null 2>&1; }

  # pw_pid_state <pid file> <marker>: PW_STATE = alive (the recorded pid runs a command line that
  # contains <marker>), dead (pid file without such a process) or absent (no pid file); PW_PID.
  pw_pid_state() {
    local cmd
    PW_PID='' PW_STATE=absent
    [ -e "$1" ] || return 0
    PW_STATE=dead
    pw_read_line "$1" || return 0
    pw_re "$PW_LINE" "$PW_RE_UINT" || return 0
    PW_PID=$PW_LINE
    cmd=$(pw_cmdline "$PW_PID")
    case $cmd in
      *"$2"*) PW_STATE=alive ;;
    esac
    return 0
  }

  # pw_pgrep <user> <pattern>: 0 when a process of <user> matches, 1 when none, 2 on an error.
  pw_pgrep() {
    local rc=0
    pgrep -u "$1" -f "$2" >/dev/null 2>&1 || rc=$?
    case $rc in
      0 | 1) return "$rc" ;;
      *) return 2 ;;
    esac
  }

  # Sleep whole seconds in the background, so a trapped signal interrupts the wait.
  PW_SLEEP_PID=''
  pw_sleep() {
    sleep "$1" &
    PW_SLEEP_PID=$!
    wait "$PW_SLEEP_PID" || true
    PW_SLEEP_PID=''
  }

  # ---------------------------------------------------------------- instance metadata (IMDSv2)

  PW_IMDS_TOKEN=''

  # curl with the fixed timeout; PW_HTTP_CODE (000 when no answer) and PW_HTTP_BODY.
  pw_http() {
    local out
    out=$(curl -s --max-time "$PW_CURL_MAX_TIME" -w "${PW_NL}%{http_code}" "$@" 2>/dev/null) || true
    PW_HTTP_CODE=${out##*"$PW_NL"}
    PW_HTTP_BODY=${out%"$PW_NL"*}
    pw_re "$PW_HTTP_CODE" '^[0-9][0-9][0-9]$' || PW_HTTP_CODE=000
  }

  pw_imds_token() {
    PW_IMDS_TOKEN=''
    pw_http -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$PW_IMDS_URL/latest/api/token"
    [ "$PW_HTTP_CODE" = 200 ] && [ -n "$PW_HTTP_BODY" ] || return 1
    PW_IMDS_TOKEN=$PW_HTTP_BODY
  }

  # pw_imds_tag <Key>: PW_TAG_STATE = value (PW_TAG_VALUE set), absent (404) or recheck
  # (timeout, 5xx, no token, or a 401 after one token refresh).
  pw_imds_tag() {
    PW_TAG_VALUE=''
    PW_TAG_STATE=recheck
    if [ -z "$PW_IMDS_TOKEN" ] && ! pw_imds_token; then
      return 0
    fi
    pw_http -H "X-aws-ec2-metadata-token: $PW_IMDS_TOKEN" "$PW_IMDS_URL/latest/meta-data/tags/instance/$1"
    if [ "$PW_HTTP_CODE" = 401 ]; then
      pw_imds_token || return 0
      pw_http -H "X-aws-ec2-metadata-token: $PW_IMDS_TOKEN" "$PW_IMDS_URL/latest/meta-data/tags/instance/$1"
    fi
    case $PW_HTTP_CODE in
      200)
        PW_TAG_STATE=value
        PW_TAG_VALUE=$PW_HTTP_BODY
        ;;
      404) PW_TAG_STATE=absent ;;
    esac
    return 0
  }
fi
