#!/bin/bash
# ci_env.sh: gives an operator a CI-like shell (behavior.md §6.5). Run as ec2-user, it copies
# itself into the worker home and re-runs there as the worker via 'sudo su -'; as the worker it
# sets up the CI environment and runs 'bash -il'.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# paths.sh lies next to the installed copy; the copies in the login directories use the installed
# directory. This fallback is the one absolute path named outside paths.sh.
case $0 in
  */*) PW_SELF_DIR=${0%/*} ;;
  *) PW_SELF_DIR=. ;;
esac
if [ -r "$PW_SELF_DIR/paths.sh" ] && [ -r "$PW_SELF_DIR/lib.sh" ]; then
  PW_LIB_DIR=$PW_SELF_DIR
else
  PW_LIB_DIR="${PW_POOL_ROOT:-}/usr/local/libexec/pw-pool"
fi
# shellcheck source=paths.sh
. "$PW_LIB_DIR/paths.sh"
# shellcheck source=lib.sh
. "$PW_LIB_DIR/lib.sh"

if [ "$(id -un)" = "$PW_EC2_USER" ]; then
  PW_KIND=cirrus PW_NAME='' PW_ENV=''
  if [ -r "$PW_AGENT_ENV" ]; then
    while IFS= read -r PW_LINE || [ -n "$PW_LINE" ]; do
      case $PW_LINE in
        kind=*) PW_KIND=${PW_LINE#kind=} ;;
        name=*) PW_NAME=${PW_LINE#name=} ;;
        runnerenv=*) PW_ENV=${PW_LINE#runnerenv=} ;;
      esac
    done <"$PW_AGENT_ENV"
  fi
  [ -n "$PW_NAME" ] || PW_NAME=$(uname -n)
  pw_valid_name "$PW_NAME" || {
    echo "ci_env.sh: cannot tell the instance name" >&2
    exit 1
  }
  pw_valid_kind "$PW_KIND" || PW_KIND=cirrus
  pw_parse_setup_args github-actions "runnerenv=$PW_ENV" url=http://x org=x group=x version=0.0.0 ||
    PW_ENV=''
  PW_WORKER=$(pw_worker_of "$PW_NAME")
  pw_user_exists "$PW_WORKER" || {
    echo "ci_env.sh: user $PW_WORKER does not exist (setup not done?)" >&2
    exit 1
  }
  PW_TARGET="$(pw_worker_home "$PW_WORKER")/ci_env.sh"
  sudo install -o "$PW_WORKER" -g staff -m 0755 "$0" "$PW_TARGET"
  # Every interpolated value is validated: a name, a kind and KEY=VALUE pairs of safe characters.
  exec sudo su - "$PW_WORKER" -c "$PW_TARGET --as-worker $PW_KIND ${PW_ENV:-,}"
fi

# As the worker.
[ "${1:-}" = --as-worker ] || {
  echo "ci_env.sh: run it as $PW_EC2_USER" >&2
  exit 1
}
PW_KIND=${2:-cirrus}
PW_ENV=${3:-,}
PW_CI_HOME="$HOME/ci"
PW_WORK="$PW_CI_HOME/work"
mkdir -p "$PW_WORK/.go/cache" "$PW_WORK/.go/env"
export HOME="$PW_CI_HOME"
export TMPDIR="$PW_CI_TMP"
export GOPATH="$PW_WORK/.go"
export GOCACHE="$PW_WORK/.go/cache"
export GOENV="$PW_WORK/.go/env/go.env"
case $PW_KIND in
  cirrus)
    export CIRRUS_SHELL="$PW_BASH"
    export CIRRUS_TASK_ID=0123456789
    export CIRRUS_WORKING_DIR="$PW_WORK"
    export CONTAINERS_MACHINE_PROVIDER=applehv
    ;;
  github-actions)
    PW_PAIRS=()
    IFS=, read -r -a PW_PAIRS <<<"$PW_ENV" || true
    for PW_PAIR in ${PW_PAIRS[@]+"${PW_PAIRS[@]}"}; do
      if pw_re "$PW_PAIR" "$PW_RE_ENVPAIR"; then export "${PW_PAIR?}"; fi
    done
    ;;
esac
cd "$PW_WORK"
exec "$PW_BASH" -il
