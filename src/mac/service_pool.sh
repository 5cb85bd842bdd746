#!/bin/bash
# service_pool.sh: the supervisor (behavior.md §6.2). Started detached by setup.sh as ec2-user,
# output appended to ~/setup.log. Keeps the listener running as the worker while the agent
# config exists and PWPoolReady is 'true'; then stops it under the drain rule (§4.5). On
# SIGTERM it exits at once and leaves the listener alone (force-stop handles it).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
umask 077

case $0 in
  */*) PW_SELF_DIR=${0%/*} ;;
  *) PW_SELF_DIR=. ;;
esac
# shellcheck source=paths.sh
. "$PW_SELF_DIR/paths.sh"
# shellcheck source=lib.sh
. "$PW_SELF_DIR/lib.sh"

pw_supervisor_term() {
  pw_log "$(pw_ts) Supervisor received SIGTERM; exiting, the listener is left alone"
  if [ -n "$PW_SLEEP_PID" ]; then kill "$PW_SLEEP_PID" 2>/dev/null || true; fi
  exit 143
}
trap pw_supervisor_term TERM

pw_priv_ok || {
  pw_log "$(pw_ts) $PW_PRIV is not a 0700 directory of ec2-user; supervisor not started"
  exit 1
}

# Step 1: parameters from agent.env, parsed by field.
PW_KIND='' PW_NAME='' PW_DRAIN=''
if [ -r "$PW_AGENT_ENV" ]; then
  while IFS= read -r PW_LINE || [ -n "$PW_LINE" ]; do
    case $PW_LINE in
      kind=*) PW_KIND=${PW_LINE#kind=} ;;
      name=*) PW_NAME=${PW_LINE#name=} ;;
      drain=*) PW_DRAIN=${PW_LINE#drain=} ;;
    esac
  done <"$PW_AGENT_ENV"
fi
if ! pw_valid_kind "$PW_KIND" || ! pw_valid_name "$PW_NAME" || ! pw_valid_uint "$PW_DRAIN"; then
  pw_log "$(pw_ts) $PW_AGENT_ENV is missing or invalid; supervisor not started"
  exit 1
fi
PW_WORKER=$(pw_worker_of "$PW_NAME")
PW_WORKER_LOG=$(pw_worker_log "$PW_NAME")
PW_LISTENER_RE=$(pw_agent_listener_pattern "$PW_KIND")
PW_JOB_RE=$(pw_agent_job_pattern "$PW_KIND")
PW_L=$(pw_agent_label "$PW_KIND")

pw_put "$PW_SUPERVISOR_PID" "$$"
pw_log "$(pw_ts) Supervisor started as pid $$ for $PW_WORKER"
sudo pkill -u "$PW_WORKER" -f "$PW_LISTENER_RE" >/dev/null 2>&1 || true

# Start the listener as the worker, in the background; its pid into PW_LISTENER.
# shellcheck disable=SC2024 # the redirects are meant to be opened by ec2-user, not the worker
pw_start_listener() {
  case $PW_KIND in
    cirrus)
      # The supervisor opens the 0600 config; the worker only ever sees it on stdin.
      sudo -iu "$PW_WORKER" "$PW_CIRRUS_BIN" worker run --file /dev/stdin \
        <"$PW_CIRRUS_CFG" >>"$PW_WORKER_LOG" 2>&1 &
      ;;
    github-actions)
      sudo -iu "$PW_WORKER" "$(pw_runner_dir "$PW_WORKER")/run.sh" \
        </dev/null >>"$PW_WORKER_LOG" 2>&1 &
      ;;
  esac
  PW_LISTENER=$!
  pw_put "$PW_LISTENER_PID" "$PW_LISTENER"
}

# Step 2: the loop.
PW_LISTENER=''
PW_REASON=''
while :; do
  if ! pw_agent_config_present "$PW_KIND" "$PW_WORKER"; then
    PW_REASON='the agent config is gone'
    break
  fi
  if [ -z "$PW_LISTENER" ] || ! pw_pid_exists "$PW_LISTENER"; then
    pw_log "$(pw_ts) Starting $PW_L as $PW_WORKER"
    pw_start_listener
    pw_sleep "$PW_POLL_SECONDS"
  fi
  pw_imds_tag PWPoolReady
  if [ "$PW_TAG_STATE" = recheck ]; then
    pw_sleep "$PW_POLL_SECONDS"
    pw_imds_tag PWPoolReady
    if [ "$PW_TAG_STATE" = recheck ]; then
      pw_log 'Failed twice to obtain PWPoolReady instance tag. Disabling listener.'
      if [ "$PW_KIND" = cirrus ]; then rm -f "$PW_CIRRUS_CFG"; fi
      PW_REASON='PWPoolReady could not be read twice'
      break
    fi
  fi
  if [ "$PW_TAG_STATE" = absent ]; then
    PW_REASON='PWPoolReady is absent'
    break
  fi
  if [ "$PW_TAG_VALUE" != true ]; then
    PW_REASON="PWPoolReady is '${PW_TAG_VALUE//[[:cntrl:]]/ }'"
    break
  fi
  pw_sleep "$PW_POLL_SECONDS"
done

# Step 3: stop the listener under the drain rule; job processes are never killed here.
pw_log "$(pw_ts) Leaving the supervisor loop: $PW_REASON"
while pw_pgrep "$PW_WORKER" "$PW_LISTENER_RE"; do
  if ! pw_pgrep "$PW_WORKER" "$PW_JOB_RE"; then
    break
  fi
  pw_read_line "$PW_DRAIN_STARTED" || true
  if ! pw_re "$PW_LINE" "$PW_RE_EPOCH"; then
    PW_LINE=$(pw_now)
    pw_put "$PW_DRAIN_STARTED" "$PW_LINE"
    pw_log "$(pw_ts) Draining: waiting up to $(pw_hours "$PW_DRAIN") hours for the running job"
  fi
  if [ $(($(pw_now) - PW_LINE)) -ge "$PW_DRAIN" ]; then
    pw_log "$(pw_ts) Drain timeout; stopping $PW_L"
    break
  fi
  pw_sleep "$PW_POLL_SECONDS"
done
sudo pkill -u "$PW_WORKER" -f "$PW_LISTENER_RE" >/dev/null 2>&1 || true
rm -f "$PW_DRAIN_STARTED"
pw_log "$(pw_ts) Stopped $PW_L; supervisor exiting"
