# pw-pool-op: maintenance
# shellcheck shell=bash
#
# maintenance <kind> <name> <listenerPattern> <jobPattern> <drainSeconds>: behavior.md §4.5
# steps 2-5. Cancels the recycling timer, removes the drop files and the agent config, and
# applies the drain rule once when a listener runs without a supervisor. Never blocks.
set -euo pipefail

pw_op_maintenance() {
  [ "$#" -eq 5 ] || pw_refuse maintenance 'usage: maintenance <kind> <name> <listenerPattern> <jobPattern> <drainSeconds>'
  local kind=$1 name=$2 lpat=$3 jpat=$4 drain=$5
  local worker me timer=none drain_state=none shutdown_re started now rc listener
  pw_valid_kind "$kind" || pw_refuse maintenance 'invalid agent kind'
  pw_valid_name "$name" || pw_refuse maintenance 'invalid instance name'
  pw_valid_pattern "$lpat" || pw_refuse maintenance 'invalid listener pattern'
  pw_valid_pattern "$jpat" || pw_refuse maintenance 'invalid job pattern'
  pw_valid_uint "$drain" || pw_refuse maintenance 'drainSeconds must be an integer >= 1'
  pw_priv_ok || pw_refuse maintenance "$PW_PRIV must be a directory owned by $(id -un) with mode 0700"
  worker=$(pw_worker_of "$name")
  me=$(id -un)

  # Step 2: the recycling timer and any shutdown.sh still waiting for a job.
  pw_pid_state "$PW_RECYCLE_PID" pw-pool-recycle
  if [ "$PW_STATE" = alive ]; then
    # Its sleep first (so the '&&' never runs shutdown.sh), then the timer itself.
    pkill -u "$me" -P "$PW_PID" -f '^sleep [0-9]+$' >/dev/null 2>&1 || true
    kill -TERM "$PW_PID" 2>/dev/null || true
    timer=cancelled
  fi
  shutdown_re="^$(pw_ere_escape "$PW_BASH") $(pw_ere_escape "$PW_LIBEXEC/shutdown.sh")( |\$)"
  rc=0
  pkill -u "$me" -f "$shutdown_re" >/dev/null 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then timer=cancelled; fi
  rm -f "$PW_RECYCLE_PID" "$PW_RECYCLE_DEADLINE"

  # Step 3: a later PWPoolReady=true must lead to a full fresh setup.
  sudo rm -f "$PW_SETUP_STARTED" "$PW_SETUP_DONE" "$PW_SETUP_FAILED"
  pw_agent_config_remove "$kind" "$worker"

  # Step 4: the drain rule, here only when no supervisor does it.
  pw_pid_state "$PW_SUPERVISOR_PID" service_pool.sh
  listener=absent
  if pw_user_exists "$worker"; then
    rc=0
    pw_pgrep "$worker" "$lpat" || rc=$?
    case $rc in
      0) listener=alive ;;
      1) ;;
      *)
        pw_diag 'pgrep failed'
        exit 1
        ;;
    esac
  fi
  if [ "$listener" = alive ]; then
    if [ "$PW_STATE" = alive ]; then
      # The supervisor leaves its loop (config gone) and drains, keeping an existing marker. A
      # running job means the drain starts now: mark it, so this run already reports it.
      if [ ! -e "$PW_DRAIN_STARTED" ]; then
        rc=0
        pw_pgrep "$worker" "$jpat" || rc=$?
        if [ "$rc" -gt 1 ]; then
          pw_diag 'pgrep failed'
          exit 1
        fi
        if [ "$rc" -eq 0 ]; then pw_put "$PW_DRAIN_STARTED" "$(pw_now)"; fi
      fi
      if [ -e "$PW_DRAIN_STARTED" ]; then drain_state=waiting; fi
    else
      now=$(pw_now)
      rc=0
      pw_pgrep "$worker" "$jpat" || rc=$?
      if [ "$rc" -gt 1 ]; then
        pw_diag 'pgrep failed'
        exit 1
      fi
      if [ "$rc" -eq 0 ]; then
        pw_read_line "$PW_DRAIN_STARTED" || true
        started=$PW_LINE
        if ! pw_re "$started" "$PW_RE_EPOCH"; then
          started=$now
          pw_put "$PW_DRAIN_STARTED" "$started"
        fi
        if [ $((now - started)) -lt "$drain" ]; then
          drain_state=waiting
        fi
      fi
      if [ "$drain_state" != waiting ]; then
        sudo pkill -u "$worker" -f "$lpat" >/dev/null 2>&1 || true
        rm -f "$PW_DRAIN_STARTED"
        drain_state='done'
      fi
    fi
  elif [ "$PW_STATE" != alive ]; then
    # Nothing left to drain: a marker from an earlier drain would only mislead the next one.
    rm -f "$PW_DRAIN_STARTED"
  fi
  pw_read_line "$PW_DRAIN_STARTED" || true

  pw_kv timer "$timer"
  pw_kv drain "$drain_state"
  pw_kv drain.started "$PW_LINE"
  pw_end maintenance
}

pw_op_maintenance "$@" </dev/null
