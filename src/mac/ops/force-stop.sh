# pw-pool-op: force-stop
# shellcheck shell=bash
#
# force-stop <kind> <name> <listenerPattern> <message>: behavior.md §4.4 steps 2-3. Every step
# is best effort: a failing step never stops the next one.
set -euo pipefail

pw_op_force_stop() {
  [ "$#" -eq 4 ] || pw_refuse force-stop 'usage: force-stop <kind> <name> <listenerPattern> <message>'
  local kind=$1 name=$2 lpat=$3 message=$4
  local worker wall=failed supervisor=none listener=none
  pw_valid_kind "$kind" || pw_refuse force-stop 'invalid agent kind'
  pw_valid_name "$name" || pw_refuse force-stop 'invalid instance name'
  pw_valid_pattern "$lpat" || pw_refuse force-stop 'invalid listener pattern'
  if [ -z "$message" ] || pw_has_cntrl "$message" || [ "${#message}" -gt 1000 ]; then
    pw_refuse force-stop 'the message must be one line of at most 1000 characters'
  fi
  worker=$(pw_worker_of "$name")

  # Step 2: tell anyone logged in, the text on wall's stdin.
  if printf '%s\n' "$message" | sudo wall >/dev/null 2>&1; then wall=ok; fi

  # Step 3: stop the listener now, no drain.
  pw_agent_config_remove "$kind" "$worker" >/dev/null 2>&1 || pw_diag 'could not remove the agent config'
  sudo rm -f "$PW_SETUP_STARTED" "$PW_SETUP_DONE" "$PW_SETUP_FAILED" >/dev/null 2>&1 ||
    pw_diag 'could not remove the drop files'
  pw_pid_state "$PW_SUPERVISOR_PID" service_pool.sh
  if [ "$PW_STATE" = alive ] && kill -TERM "$PW_PID" 2>/dev/null; then supervisor=stopped; fi
  if pw_user_exists "$worker" && sudo pkill -u "$worker" -f "$lpat" >/dev/null 2>&1; then
    listener=stopped
  fi

  pw_kv wall "$wall"
  pw_kv supervisor "$supervisor"
  pw_kv listener "$listener"
  pw_end force-stop
}

pw_op_force_stop "$@" </dev/null
