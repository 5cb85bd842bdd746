#!/bin/bash
# cleanup_hook.sh: github-actions job-completed hook (behavior.md §7). Runs as the worker after
# every job; empties the CI temp directory and ~/ci. Never fails the job: always exits 0.
# shellcheck source-path=SCRIPTDIR
set +e -x

case $0 in
  */*) PW_SELF_DIR=${0%/*} ;;
  *) PW_SELF_DIR=. ;;
esac
# shellcheck source=paths.sh
. "$PW_SELF_DIR/paths.sh"
# shellcheck source=lib.sh
. "$PW_SELF_DIR/lib.sh"

pw_log "cleanup_hook.sh starting at $(pw_ts)"
for PW_DIR in "$PW_CI_TMP" "$(pw_worker_home "$(id -un)")/ci"; do
  if [ -d "$PW_DIR" ]; then
    chmod -R u+w "$PW_DIR"
    find "$PW_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  fi
done
pw_log "cleanup_hook.sh finished at $(pw_ts)"
exit 0
