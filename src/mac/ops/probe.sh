# pw-pool-op: probe
# shellcheck shell=bash
#
# probe <kind> <name> <listenerPattern> <jobPattern> <registeredRe> <startedRe> <finishedRe>
# Every remote fact in one round trip (PROTOCOL.md). Read-only: changes nothing.
set -euo pipefail

# alive / absent for a process of <worker> matching <pattern> (absent when the user does not exist).
pw_probe_process() {
  local rc=0
  if [ "$1" != yes ]; then
    printf absent
    return 0
  fi
  pw_pgrep "$2" "$3" || rc=$?
  case $rc in
    0) printf alive ;;
    1) printf absent ;;
    *)
      pw_diag 'pgrep failed'
      return 1
      ;;
  esac
}

pw_op_probe() {
  [ "$#" -eq 7 ] || pw_refuse probe 'usage: probe <kind> <name> <listenerPattern> <jobPattern> <registeredRe> <startedRe> <finishedRe>'
  local kind=$1 name=$2 lpat=$3 jpat=$4 rre=$5 sre=$6 fre=$7
  local worker wlog v re user_present=no
  pw_valid_kind "$kind" || pw_refuse probe 'invalid agent kind'
  pw_valid_name "$name" || pw_refuse probe 'invalid instance name'
  for re in "$lpat" "$jpat" "$rre" "$sre" "$fre"; do
    pw_valid_pattern "$re" || pw_refuse probe 'invalid pattern argument'
  done
  worker=$(pw_worker_of "$name")
  wlog=$(pw_worker_log "$name")

  pw_kv protocol "$PW_PROTOCOL"
  pw_kv now "$(pw_now)"
  if [ -f "$PW_LIBEXEC/setup.sh" ]; then pw_kv scripts installed; else pw_kv scripts absent; fi

  if [ -e "$PW_SETUP_STARTED" ]; then
    pw_kv setup.started present
    v=$(tail -n 1 "$PW_SETUP_STARTED" 2>/dev/null) || v=''
    pw_kv setup.started.last "$v"
    if pw_file_stat "$PW_SETUP_STARTED"; then v=$PW_STAT_MTIME; else v=''; fi
    pw_kv setup.started.mtime "$v"
  else
    pw_kv setup.started absent
    pw_kv setup.started.last ''
    pw_kv setup.started.mtime ''
  fi
  if [ -e "$PW_SETUP_DONE" ]; then pw_kv setup.done present; else pw_kv setup.done absent; fi
  if [ -e "$PW_SETUP_FAILED" ]; then
    pw_kv setup.failed present
    pw_read_line "$PW_SETUP_FAILED" || true
    pw_kv setup.failed.reason "$PW_LINE"
  else
    pw_kv setup.failed absent
    pw_kv setup.failed.reason ''
  fi
  if [ -e "$PW_SETUP_LOG" ]; then
    pw_kv setup.log present
    v=$(awk 'NF { last = $0 } END { print last }' "$PW_SETUP_LOG" 2>/dev/null) || v=''
    pw_kv setup.log.last "$v"
  else
    pw_kv setup.log absent
    pw_kv setup.log.last ''
  fi

  pw_pid_state "$PW_SUPERVISOR_PID" service_pool.sh
  pw_kv supervisor "$PW_STATE"

  if pw_user_exists "$worker"; then user_present=yes; fi
  v=$(pw_probe_process "$user_present" "$worker" "$lpat") || exit 1
  pw_kv listener "$v"
  v=$(pw_probe_process "$user_present" "$worker" "$jpat") || exit 1
  pw_kv job "$v"
  if [ "$user_present" = yes ]; then pw_kv worker.user present; else pw_kv worker.user absent; fi

  pw_pid_state "$PW_RECYCLE_PID" pw-pool-recycle
  pw_kv timer "$PW_STATE"
  pw_read_line "$PW_RECYCLE_DEADLINE" || true
  pw_kv recycle.deadline "$PW_LINE"
  pw_read_line "$PW_DRAIN_STARTED" || true
  pw_kv drain.started "$PW_LINE"

  if pw_agent_config_present "$kind" "$worker"; then pw_kv agent.config present; else pw_kv agent.config absent; fi

  if [ -f "$wlog" ] && pw_file_stat "$wlog"; then
    pw_kv worker.log present
    pw_kv worker.log.inode "$PW_STAT_INODE"
    pw_kv worker.log.size "$PW_STAT_SIZE"
    v=$(pw_log_count "$wlog" "$rre" 10) || { pw_diag 'cannot read the worker log'; exit 1; }
    if [ "$v" -gt 0 ]; then pw_kv worker.log.registered yes; else pw_kv worker.log.registered no; fi
    v=$(pw_log_count "$wlog" "$sre") || { pw_diag 'cannot read the worker log'; exit 1; }
    pw_kv worker.log.started "$v"
    v=$(pw_log_count "$wlog" "$fre") || { pw_diag 'cannot read the worker log'; exit 1; }
    pw_kv worker.log.finished "$v"
  else
    pw_kv worker.log absent
    pw_kv worker.log.inode ''
    pw_kv worker.log.size ''
    pw_kv worker.log.registered ''
    pw_kv worker.log.started ''
    pw_kv worker.log.finished ''
  fi
  pw_end probe
}

pw_op_probe "$@" </dev/null
