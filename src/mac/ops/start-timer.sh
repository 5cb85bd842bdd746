# pw-pool-op: start-timer
# shellcheck shell=bash
#
# start-timer <seconds> <drainSeconds> <jobPattern>: the recycling timer (behavior.md §6.3).
# At most one timer: a live recorded pw-pool-recycle process is reported and left alone.
set -euo pipefail

pw_op_start_timer() {
  [ "$#" -eq 3 ] || pw_refuse start-timer 'usage: start-timer <seconds> <drainSeconds> <jobPattern>'
  local seconds=$1 drain=$2 jpat=$3 pid deadline
  pw_valid_uint "$seconds" || pw_refuse start-timer 'seconds must be an integer >= 1'
  pw_valid_uint "$drain" || pw_refuse start-timer 'drainSeconds must be an integer >= 1'
  pw_valid_pattern "$jpat" || pw_refuse start-timer 'invalid job pattern'
  pw_priv_ok || pw_refuse start-timer "$PW_PRIV must be a directory owned by $(id -un) with mode 0700"
  [ -f "$PW_LIBEXEC/shutdown.sh" ] || pw_refuse start-timer 'installed scripts are missing'

  pw_pid_state "$PW_RECYCLE_PID" pw-pool-recycle
  if [ "$PW_STATE" = alive ]; then
    pw_read_line "$PW_RECYCLE_DEADLINE" || true
    pw_kv timer existing
    pw_kv deadline "$PW_LINE"
    pw_end start-timer
    return 0
  fi

  deadline=$(($(pw_now) + seconds))
  # shellcheck disable=SC2016 # $1..$4 belong to the timer's own bash
  "$PW_BASH" -c 'sleep "$1" && exec /bin/bash "$2" "$3" "$4"' pw-pool-recycle \
    "$seconds" "$PW_LIBEXEC/shutdown.sh" "$drain" "$jpat" </dev/null >>"$PW_SETUP_LOG" 2>&1 &
  pid=$!
  pw_put "$PW_RECYCLE_PID" "$pid"
  pw_put "$PW_RECYCLE_DEADLINE" "$deadline"
  pw_kv timer started
  pw_kv deadline "$deadline"
  pw_end start-timer
}

pw_op_start_timer "$@" </dev/null
