# pw-pool-op: start-setup
# shellcheck shell=bash
#
# start-setup <kind> <name> <setup args...>, secret form: stdin carries the CI secret (one line).
# Records .setup.started, stores the secret 0600 in the private directory and starts setup.sh
# detached. The secret moves only through bash builtins: never an argument, never the
# environment of a child, never a log line.
set -euo pipefail
umask 077

pw_op_start_setup() {
  [ "$#" -ge 2 ] || pw_refuse start-setup 'usage: start-setup <kind> <name> <setup args...>'
  local kind=$1 name=$2 secret='' extra='' pid
  pw_valid_kind "$kind" || pw_refuse start-setup 'invalid agent kind'
  pw_valid_name "$name" || pw_refuse start-setup 'invalid instance name'
  shift 2
  pw_parse_setup_args "$kind" "$@" || pw_refuse start-setup "$PW_ARG_ERROR"
  pw_priv_ok || pw_refuse start-setup "$PW_PRIV must be a directory owned by $(id -un) with mode 0700"
  [ -f "$PW_LIBEXEC/setup.sh" ] || pw_refuse start-setup 'installed scripts are missing'

  # The secret: exactly one non-empty line of token characters.
  IFS= read -r secret || true
  if IFS= read -r extra || [ -n "$extra" ]; then
    secret=''
    pw_refuse start-setup 'the secret on stdin must be a single line'
  fi
  if ! pw_re "$secret" "$PW_RE_SECRET"; then
    secret=''
    pw_refuse start-setup 'the secret on stdin is empty or has unexpected characters'
  fi

  # The first state change of a setup.
  if [ ! -e "$PW_SETUP_STARTED" ]; then
    pw_ts >>"$PW_SETUP_STARTED"
  fi

  rm -f "$PW_SECRET"
  printf '%s\n' "$secret" >"$PW_SECRET"
  secret=''
  chmod 0600 "$PW_SECRET"

  "$PW_BASH" "$PW_LIBEXEC/setup.sh" "$kind" "$name" "$@" </dev/null >>"$PW_SETUP_LOG" 2>&1 &
  pid=$!
  pw_kv setup started
  pw_kv pid "$pid"
  pw_end start-setup
}

pw_op_start_setup "$@"
