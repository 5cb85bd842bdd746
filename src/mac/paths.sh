# pw-pool-protocol: 1
# shellcheck shell=bash
# shellcheck disable=SC2034 # a definitions file: every value is used by the scripts that source it
#
# paths.sh: the only file that names absolute paths or the instance-metadata URL (PROTOCOL.md).
# Sourced by the installed scripts and concatenated in front of every remote operation.
# PW_POOL_ROOT and PW_POOL_IMDS_URL are the only overridable values; only the test sandbox sets
# them. The PW_POOL_*_SECONDS / *_URL knobs below are honoured only together with PW_POOL_ROOT,
# so on a real Mac (no root prefix) they are ignored whatever the environment says.

if [ "${PW_PATHS_LOADED:-}" != "$$" ]; then
  PW_PATHS_LOADED=$$

  PW_PROTOCOL=1
  PW_ROOT="${PW_POOL_ROOT:-}"
  PW_IMDS_URL="${PW_POOL_IMDS_URL:-http://169.254.169.254}"

  # Installed scripts and private state.
  PW_LIBEXEC="$PW_ROOT/usr/local/libexec/pw-pool"
  PW_USERS="$PW_ROOT/Users"
  PW_EC2_USER=ec2-user
  PW_EC2_HOME="$PW_USERS/ec2-user"
  PW_PRIV="$PW_EC2_HOME/.pw-pool"
  PW_STAGE="$PW_PRIV/stage"
  PW_SECRET="$PW_PRIV/secret"
  PW_CIRRUS_CFG="$PW_PRIV/cirrus-worker.yml"
  PW_AGENT_ENV="$PW_PRIV/agent.env"
  PW_SUPERVISOR_PID="$PW_PRIV/supervisor.pid"
  PW_LISTENER_PID="$PW_PRIV/listener.pid"
  PW_RECYCLE_PID="$PW_PRIV/recycle.pid"
  PW_RECYCLE_DEADLINE="$PW_PRIV/recycle.deadline"
  PW_DRAIN_STARTED="$PW_PRIV/drain.started"
  PW_SETUP_PID="$PW_PRIV/setup.pid"

  # Drop files and the setup/supervisor/shutdown log (original names).
  PW_SETUP_STARTED="$PW_EC2_HOME/.setup.started"
  PW_SETUP_DONE="$PW_EC2_HOME/.setup.done"
  PW_SETUP_FAILED="$PW_EC2_HOME/.setup.failed"
  PW_SETUP_LOG="$PW_EC2_HOME/setup.log"
  PW_CI_ENV_COPY="$PW_EC2_HOME/ci_env.sh"

  # Worker log (<name>-worker.log), CI TMPDIR and worker home live under these.
  PW_TMP="$PW_ROOT/private/tmp"
  PW_CI_TMP="$PW_TMP/ci"

  # System files and tools that setup.sh touches.
  PW_ETC_PATHS="$PW_ROOT/etc/paths"
  PW_ETC_PROFILE="$PW_ROOT/etc/profile"
  PW_HOMEBREW="$PW_ROOT/opt/homebrew"
  PW_BREW="$PW_HOMEBREW/bin/brew"
  PW_CIRRUS_BIN="$PW_HOMEBREW/bin/cirrus"
  PW_LOCAL_BIN="$PW_ROOT/usr/local/bin"
  PW_GVPROXY="$PW_LOCAL_BIN/gvproxy"
  PW_SWU_SHIM="$PW_LOCAL_BIN/softwareupdate"
  PW_SOFTWAREUPDATE="$PW_ROOT/usr/sbin/softwareupdate"
  PW_PREFS="$PW_ROOT/Library/Preferences"
  # Real system binaries, never prefixed: the Rosetta probe and the softwareupdate shim target.
  PW_SYS_UNAME=/usr/bin/uname
  PW_SYS_FALSE=/usr/bin/false
  PW_BASH=/bin/bash

  # Downloads.
  PW_GVPROXY_URL="https://github.com/containers/gvisor-tap-vsock/releases/latest/download/gvproxy-darwin"
  PW_GHA_DOWNLOAD_URL="https://github.com/actions/runner/releases/download"
  PW_GHA_RELEASE_API_URL="https://api.github.com/repos/actions/runner/releases/tags"

  # Waits (seconds). Integers only: Darwin's sleep takes whole seconds.
  PW_POLL_SECONDS=10
  PW_SHUTDOWN_POLL_SECONDS=60
  PW_CURL_MAX_TIME=5

  # Sandbox-only knobs (see src/mac/README.md): honoured only with a root prefix.
  if [ -n "$PW_ROOT" ]; then
    case "${PW_POOL_POLL_SECONDS:-}" in
      '' | *[!0-9]* | 0*) ;;
      *) PW_POLL_SECONDS=$PW_POOL_POLL_SECONDS ;;
    esac
    case "${PW_POOL_SHUTDOWN_POLL_SECONDS:-}" in
      '' | *[!0-9]* | 0*) ;;
      *) PW_SHUTDOWN_POLL_SECONDS=$PW_POOL_SHUTDOWN_POLL_SECONDS ;;
    esac
    PW_GVPROXY_URL="${PW_POOL_GVPROXY_URL:-$PW_GVPROXY_URL}"
    PW_GHA_DOWNLOAD_URL="${PW_POOL_GHA_DOWNLOAD_URL:-$PW_GHA_DOWNLOAD_URL}"
    PW_GHA_RELEASE_API_URL="${PW_POOL_GHA_RELEASE_API_URL:-$PW_GHA_RELEASE_API_URL}"
  fi
fi
