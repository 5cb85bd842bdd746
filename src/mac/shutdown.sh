#!/bin/bash
# shutdown.sh <drainSeconds> <jobPattern>: the end of the recycling timer (behavior.md §6.3).
# Run by the timer as ec2-user, output appended to ~/setup.log: waits (up to the drain) for a
# running job of the worker, then shuts the instance down; its shutdown behaviour is terminate.
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

pw_log "Starting shutdown.sh at $(pw_ts)"
PW_DRAIN=${1:-}
PW_JOB_RE=${2:-}
if ! pw_valid_uint "$PW_DRAIN" || ! pw_valid_pattern "$PW_JOB_RE"; then
  pw_log 'Invalid arguments (drain seconds, job pattern); not waiting for jobs'
  PW_DRAIN=''
fi

# The worker user: from the Name tag, or from the hostname setup.sh gave the instance.
pw_imds_tag Name
if [ "$PW_TAG_STATE" = value ] && pw_valid_name "$PW_TAG_VALUE"; then
  PW_NAME=$PW_TAG_VALUE
else
  PW_NAME=$(uname -n) || PW_NAME=''
fi

if [ -n "$PW_DRAIN" ] && pw_valid_name "$PW_NAME" && pw_user_exists "$(pw_worker_of "$PW_NAME")"; then
  PW_WORKER=$(pw_worker_of "$PW_NAME")
  PW_START=$(pw_now)
  pw_log "Waiting up to $(pw_hours "$PW_DRAIN") hours for any running job"
  while pw_pgrep "$PW_WORKER" "$PW_JOB_RE"; do
    if [ "$(pw_now)" -gt $((PW_START + PW_DRAIN)) ]; then
      pw_log "Timeout waiting for '$PW_JOB_RE' to terminate"
      break
    fi
    pw_log "Found '$PW_JOB_RE' still running, waiting..."
    pw_sleep "$PW_SHUTDOWN_POLL_SECONDS"
  done
fi

pw_log "Initiating shutdown at $(pw_ts)"
sudo shutdown -h now "Automatic instance recycling" </dev/null
