#!/bin/bash
# setup.sh <kind> <name> <key=value...>: turn a fresh EC2 Mac instance into a pool worker
# (behavior.md §6.1). Started detached by the start-setup operation, as ec2-user, with output
# appended to ~/setup.log. Every step is guarded, so a second run is a no-op or a repair.
# The CI secret arrives in $PW_SECRET (0600); it is read with a builtin, folded into the 0600
# agent config (or handed to config.sh, github-actions) and the file is deleted on any exit.
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

PW_STEP='start'
PW_FAIL_REASON=''
PW_COMPLETED=0
PW_TOKEN=''

# Fail with a one-line reason (written to .setup.failed by the EXIT trap).
pw_fail() {
  PW_FAIL_REASON=$1
  exit 1
}

pw_setup_exit() {
  local rc=$? reason
  rm -f "$PW_SECRET"
  PW_TOKEN=''
  if pw_read_line "$PW_SETUP_PID" && [ "$PW_LINE" = "$$" ]; then rm -f "$PW_SETUP_PID"; fi
  if [ "$rc" -ne 0 ] && [ "$PW_COMPLETED" != 1 ]; then
    reason=${PW_FAIL_REASON:-"step '$PW_STEP' failed with exit status $rc"}
    reason=${reason//[[:cntrl:]]/ }
    printf '%s\n' "$reason" >"$PW_SETUP_FAILED" || true
    pw_log "$(pw_ts) Setup failed: $reason"
  fi
}
trap pw_setup_exit EXIT

pw_step() {
  PW_STEP=$1
  pw_log "$(pw_ts) $1"
}

# ------------------------------------------------------------------------------- step 1

if [ -e "$PW_SETUP_DONE" ]; then
  PW_LINE=''
  if [ -r "$PW_SETUP_DONE" ]; then PW_LINE=$(tail -n 1 "$PW_SETUP_DONE") || PW_LINE=''; fi
  pw_log "Appears setup script already ran at $PW_LINE"
  exit 0
fi

# ------------------------------------------------------------------------------- arguments

[ "$#" -ge 2 ] || pw_fail 'usage: setup.sh <kind> <name> <key=value...>'
PW_KIND=$1
PW_NAME=$2
shift 2
pw_valid_kind "$PW_KIND" || pw_fail 'invalid agent kind'
pw_valid_name "$PW_NAME" || pw_fail 'invalid instance name'
pw_parse_setup_args "$PW_KIND" "$@" || pw_fail "$PW_ARG_ERROR"
PW_WORKER=$(pw_worker_of "$PW_NAME")
PW_WORKER_HOME=$(pw_worker_home "$PW_WORKER")
PW_WORKER_LOG=$(pw_worker_log "$PW_NAME")

# One setup at a time: a second start while one runs leaves the running one alone.
pw_pid_state "$PW_SETUP_PID" setup.sh
if [ "$PW_STATE" = alive ] && [ "$PW_PID" != "$$" ]; then
  pw_log "$(pw_ts) setup.sh is already running as pid $PW_PID; leaving it alone"
  exit 0
fi
pw_priv_ok || pw_fail "$PW_PRIV must be a directory owned by ec2-user with mode 0700"
pw_put "$PW_SETUP_PID" "$$"

# ------------------------------------------------------------------------------- step 2

pw_step 'Recording the setup start'
if [ ! -e "$PW_SETUP_STARTED" ]; then
  pw_ts >>"$PW_SETUP_STARTED"
fi
rm -f "$PW_SETUP_FAILED"

# ------------------------------------------------------------------------------- step 3

pw_step 'Checking the user and the instance tags'
[ "$(id -un)" = "$PW_EC2_USER" ] || pw_fail 'setup.sh must run as ec2-user'
pw_imds_tag Name
[ "$PW_TAG_STATE" = value ] || pw_fail "could not read the instance tag 'Name' from IMDSv2 ($PW_TAG_STATE)"
pw_valid_name "$PW_TAG_VALUE" || pw_fail "instance tag 'Name' does not match $PW_RE_NAME"
[ "$PW_TAG_VALUE" = "$PW_NAME" ] || pw_fail "instance tag 'Name' is not '$PW_NAME'"
pw_imds_tag PWPoolReady
if [ "$PW_TAG_STATE" != value ] || [ "$PW_TAG_VALUE" != true ]; then
  pw_fail "instance tag 'PWPoolReady' is not 'true'"
fi

# ------------------------------------------------------------------------------- step 4

pw_step 'Consuming the CI secret'
if [ -f "$PW_SECRET" ]; then
  IFS= read -r PW_TOKEN <"$PW_SECRET" || true
  rm -f "$PW_SECRET"
  pw_re "$PW_TOKEN" "$PW_RE_SECRET" || {
    PW_TOKEN=''
    pw_fail 'the CI secret file is empty or malformed'
  }
else
  pw_log 'No new CI secret; an existing agent configuration will be kept'
fi

# ------------------------------------------------------------------------------- step 5

pw_step 'Configuring paths'
if ! grep -F -x -q -e "$PW_HOMEBREW/bin" "$PW_ETC_PATHS" 2>/dev/null; then
  PW_TMPFILE=$(mktemp "$PW_PRIV/.paths.XXXXXX")
  {
    printf '%s\n' "$PW_HOMEBREW/bin" "$PW_HOMEBREW/opt/coreutils/libexec/gnubin"
    if [ -r "$PW_ETC_PATHS" ]; then cat "$PW_ETC_PATHS"; fi
  } >"$PW_TMPFILE"
  sudo install -o root -g wheel -m 0644 "$PW_TMPFILE" "$PW_ETC_PATHS"
  rm -f "$PW_TMPFILE"
fi
if [ -r "$PW_ETC_PROFILE" ]; then
  # macOS's /etc/profile (and the /etc/bashrc it reads) is not written for 'set -eu'.
  set +eu
  # shellcheck source=/dev/null
  . "$PW_ETC_PROFILE"
  set -eu
fi

# ------------------------------------------------------------------------------- step 6

pw_step 'Installing packages'
HOMEBREW_NO_ASK=1
export HOMEBREW_NO_ASK
PW_TAPS=$PW_ARG_TAPS
PW_FORMULAS=$PW_ARG_FORMULAS
case $PW_KIND in
  cirrus)
    PW_TAPS="$PW_TAPS cirruslabs/cli"
    PW_FORMULAS="$PW_FORMULAS cirruslabs/cli/cirrus"
    ;;
  github-actions) PW_FORMULAS="$PW_FORMULAS jq" ;;
esac
PW_LIST=()
read -r -a PW_LIST <<<"$PW_TAPS" || true
PW_TRUST=no
if "$PW_BREW" trust --help >/dev/null 2>&1; then PW_TRUST=yes; fi
for PW_ITEM in ${PW_LIST[@]+"${PW_LIST[@]}"}; do
  "$PW_BREW" tap "$PW_ITEM" || pw_fail "brew tap $PW_ITEM failed"
  if [ "$PW_TRUST" = yes ]; then
    "$PW_BREW" trust "$PW_ITEM" || pw_fail "brew trust $PW_ITEM failed"
  fi
done
PW_INSTALLED=$("$PW_BREW" list --formula -1) || pw_fail 'brew list failed'
PW_LIST=()
read -r -a PW_LIST <<<"$PW_FORMULAS" || true
PW_MISSING=()
PW_NMISSING=0
for PW_ITEM in ${PW_LIST[@]+"${PW_LIST[@]}"}; do
  case "$PW_NL$PW_INSTALLED$PW_NL" in
    *"$PW_NL${PW_ITEM##*/}$PW_NL"*) ;;
    *)
      PW_MISSING+=("$PW_ITEM")
      PW_NMISSING=$((PW_NMISSING + 1))
      ;;
  esac
done
# (a counter, not ${#a[@]}: bash 3.2 with set -u is touchy about empty arrays)
if [ "$PW_NMISSING" -gt 0 ]; then
  "$PW_BREW" install "${PW_MISSING[@]}" || pw_fail "brew install ${PW_MISSING[*]} failed"
fi
if [ ! -x "$PW_GVPROXY" ]; then
  PW_TMPFILE=$(mktemp "$PW_PRIV/.gvproxy.XXXXXX")
  curl -fsSL --retry 3 --max-time 300 -o "$PW_TMPFILE" "$PW_GVPROXY_URL" ||
    pw_fail 'downloading gvproxy-darwin failed'
  sudo mkdir -p "$PW_LOCAL_BIN"
  sudo install -o root -g staff -m 0755 "$PW_TMPFILE" "$PW_GVPROXY"
  rm -f "$PW_TMPFILE"
fi

# ------------------------------------------------------------------------------- step 7

pw_step 'Setting the hostname'
if [ "$(uname -n)" != "$PW_NAME" ]; then
  sudo hostname "$PW_NAME"
  sudo scutil --set HostName "$PW_NAME"
  sudo scutil --set ComputerName "$PW_NAME"
fi

# ------------------------------------------------------------------------------- step 8

pw_step "Creating the worker user $PW_WORKER"
if ! pw_user_exists "$PW_WORKER"; then
  # A random password nobody knows: the worker never logs in interactively.
  PW_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  sudo sysadminctl -addUser "$PW_WORKER" -fullName "$PW_WORKER" -password "$PW_PASSWORD" \
    -home "$PW_WORKER_HOME" || pw_fail "sysadminctl -addUser $PW_WORKER failed"
  PW_PASSWORD=''
  pw_user_exists "$PW_WORKER" || pw_fail "user $PW_WORKER does not exist after sysadminctl"
fi

# ------------------------------------------------------------------------------- step 9

# Is something mounted exactly at <path>?
pw_is_mounted() {
  local table
  table=$(mount) || return 1
  case "$PW_NL$table$PW_NL" in
    *" on $1 ("*) return 0 ;;
  esac
  return 1
}

# The APFS container of the internal disk: the 'Apple_APFS Container diskN' partition.
pw_internal_container() {
  diskutil list internal physical |
    awk '$2 == "Apple_APFS" && $3 == "Container" && $4 ~ /^disk[0-9]+$/ && c == "" { c = $4 }
      END { print c }'
}

# The device of an existing volume <name> in container <container> (empty when none).
pw_volume_device() {
  diskutil apfs list "$1" | awk -v want="$2" '
    /\+-> Volume disk[0-9]+s[0-9]+/ {
      for (i = 1; i <= NF; i++) if ($i ~ /^disk[0-9]+s[0-9]+$/) dev = $i
    }
    /Name:/ {
      n = $0
      sub(/^.*Name:[ ]*/, "", n)
      sub(/ \(Case-.*$/, "", n)
      if (n == want && dev != "" && found == "") found = dev
    }
    END { print found }'
}

# pw_volume <volume> <mountpoint> <mode>: mount (adding it once) the volume at the mount point.
PW_CONTAINER=''
pw_volume() {
  local dev
  if ! pw_is_mounted "$2"; then
    if [ -z "$PW_CONTAINER" ]; then
      PW_CONTAINER=$(pw_internal_container) || PW_CONTAINER=''
      [ -n "$PW_CONTAINER" ] || pw_fail 'could not find the internal APFS container'
    fi
    sudo mkdir -p "$2"
    dev=$(pw_volume_device "$PW_CONTAINER" "$1") || dev=''
    if [ -n "$dev" ]; then
      sudo diskutil mount -mountPoint "$2" "$dev" || pw_fail "could not mount volume $1"
    else
      sudo diskutil apfs addVolume "$PW_CONTAINER" APFS "$1" -mountpoint "$2" ||
        pw_fail "could not add volume $1"
    fi
    pw_is_mounted "$2" || pw_fail "volume $1 is not mounted at $2"
    PW_MOUNTED_NOW=yes
  fi
  sudo chown "$PW_WORKER:staff" "$2"
  sudo chmod "$3" "$2"
}

pw_step 'Setting up the worker storage'
PW_MOUNTED_NOW=no
if ! pw_is_mounted "$PW_WORKER_HOME" && [ -d "$PW_WORKER_HOME" ]; then
  sudo find "$PW_WORKER_HOME" -mindepth 1 -delete
fi
pw_volume ci_tempdir "$PW_CI_TMP" 1770
pw_volume ci_homedir "$PW_WORKER_HOME" 0750
if [ "$PW_MOUNTED_NOW" = yes ]; then
  sudo mdutil -a -i off >/dev/null 2>&1 || true
  sudo pkill -u "$PW_WORKER" >/dev/null 2>&1 || true
fi

# ------------------------------------------------------------------------------- step 10

# cirrus: the 0600 config the supervisor feeds to the listener on stdin.
pw_cirrus_configure() {
  local key value tmp
  if [ -z "$PW_TOKEN" ]; then
    [ -f "$PW_CIRRUS_CFG" ] || pw_fail 'no CI secret and no cirrus configuration'
    pw_log 'Keeping the existing cirrus configuration'
    return 0
  fi
  key=${PW_ARG_LABEL%%:*}
  value=${PW_ARG_LABEL#*:}
  value=${value# }
  tmp=$(mktemp "$PW_PRIV/.cirrus-worker.yml.XXXXXX")
  {
    printf '%s\n' '---'
    printf 'name: "%s"\n' "$PW_NAME"
    printf 'token: "%s"\n' "$PW_TOKEN"
    printf '%s\n' 'labels:'
    printf '  %s: %s\n' "$key" "$value"
    printf '%s\n' 'log:'
    printf '  file: "%s"\n' "$PW_WORKER_LOG"
    printf '%s\n' 'security:' '  allowed-isolations:' '    none: {}'
  } >"$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$PW_CIRRUS_CFG"
  PW_TOKEN=''
}

# github-actions (behavior.md §7). Install, register and .env are plain scripting; the
# manager's side (registration token, runner groups, cordon, deregistration) lives in pw-lib.
pw_gha_configure() {
  local dir sha tmp archive file
  local -a labels
  dir=$(pw_runner_dir "$PW_WORKER")
  file="actions-runner-osx-arm64-$PW_ARG_VERSION.tar.gz"
  # Install: download, verify the SHA-256 published with the release, unpack as the worker.
  if ! sudo test -f "$dir/config.sh"; then
    pw_http -H 'Accept: application/vnd.github+json' "$PW_GHA_RELEASE_API_URL/v$PW_ARG_VERSION"
    [ "$PW_HTTP_CODE" = 200 ] || pw_fail "could not read the runner release v$PW_ARG_VERSION"
    sha=$(printf '%s\n' "$PW_HTTP_BODY" |
      sed -n -E 's/.*<!-- BEGIN SHA osx-arm64 -->([0-9a-f]{64})<!-- END SHA osx-arm64 -->.*/\1/p' |
      head -n 1) || sha=''
    pw_re "$sha" '^[0-9a-f]{64}$' || pw_fail 'the runner release publishes no osx-arm64 SHA-256'
    archive=$(mktemp "$PW_PRIV/.runner.XXXXXX")
    curl -fsSL --retry 3 --max-time 600 -o "$archive" "$PW_GHA_DOWNLOAD_URL/v$PW_ARG_VERSION/$file" ||
      pw_fail "downloading $file failed"
    tmp=$(shasum -a 256 "$archive") || pw_fail 'shasum failed'
    [ "${tmp%% *}" = "$sha" ] || pw_fail "$file does not match its published SHA-256"
    sudo -u "$PW_WORKER" mkdir -p "$dir"
    # The archive sits in the private directory: the worker reads it through our stdin.
    # shellcheck disable=SC2024 # on purpose: ec2-user opens the file
    sudo -u "$PW_WORKER" tar -xzf - -C "$dir" <"$archive" || pw_fail "unpacking $file failed"
    rm -f "$archive"
  fi
  # Register: the token only in config.sh's environment, never as --token.
  if ! sudo test -f "$dir/.runner"; then
    [ -n "$PW_TOKEN" ] || pw_fail 'no registration token for an unregistered runner'
    labels=()
    if [ -n "$PW_ARG_LABELS" ]; then labels=(--labels "$PW_ARG_LABELS"); fi
    (
      ACTIONS_RUNNER_INPUT_TOKEN=$PW_TOKEN
      export ACTIONS_RUNNER_INPUT_TOKEN
      sudo --preserve-env=ACTIONS_RUNNER_INPUT_TOKEN -u "$PW_WORKER" "$PW_BASH" -c \
        'cd "$1" && shift && exec ./config.sh "$@"' pw-pool "$dir" \
        --unattended --replace --disableupdate --url "$PW_ARG_URL/$PW_ARG_ORG" --name "$PW_NAME" \
        --runnergroup "$PW_ARG_GROUP" ${labels[@]+"${labels[@]}"} \
        --work "$PW_WORKER_HOME/ci" </dev/null
    ) || pw_fail 'config.sh failed to register the runner'
    PW_TOKEN=''
  fi
  # Environment: the job-completed hook plus remote.runnerEnv.
  tmp=$(mktemp "$PW_PRIV/.runner-env.XXXXXX")
  {
    printf 'ACTIONS_RUNNER_HOOK_JOB_COMPLETED=%s\n' "$PW_LIBEXEC/cleanup_hook.sh"
    if [ -n "$PW_ARG_RUNNERENV" ]; then
      printf '%s\n' "$PW_ARG_RUNNERENV" | tr ',' '\n'
    fi
  } >"$tmp"
  chmod 0644 "$tmp"
  sudo install -o "$PW_WORKER" -g staff -m 0644 "$tmp" "$dir/.env"
  rm -f "$tmp"
}

pw_step 'Configuring the CI agent'
case $PW_KIND in
  cirrus) pw_cirrus_configure ;;
  github-actions) pw_gha_configure ;;
esac
# The supervisor's parameters, parsed by field.
PW_TMPFILE=$(mktemp "$PW_PRIV/.agent.env.XXXXXX")
{
  printf 'kind=%s\n' "$PW_KIND"
  printf 'name=%s\n' "$PW_NAME"
  printf 'drain=%s\n' "$PW_ARG_DRAIN"
  printf 'runnerenv=%s\n' "$PW_ARG_RUNNERENV"
} >"$PW_TMPFILE"
chmod 0600 "$PW_TMPFILE"
mv -f "$PW_TMPFILE" "$PW_AGENT_ENV"

# ------------------------------------------------------------------------------- step 11

pw_step 'Checking Rosetta'
if ! arch -arch x86_64 "$PW_SYS_UNAME" -m >/dev/null 2>&1; then
  sudo "$PW_SOFTWAREUPDATE" --install-rosetta --agree-to-license </dev/null ||
    pw_fail 'installing Rosetta failed'
  arch -arch x86_64 "$PW_SYS_UNAME" -m >/dev/null 2>&1 ||
    pw_fail 'Rosetta installed but not functional'
fi

# ------------------------------------------------------------------------------- step 12

pw_step 'Restricting software updates to admins'
if [ ! -L "$PW_SWU_SHIM" ]; then
  sudo defaults write "$PW_PREFS/com.apple.SoftwareUpdate" \
    restrict-software-update-require-admin-to-install -bool true
  sudo defaults write "$PW_PREFS/com.apple.appstore" restrict-store-require-admin-to-install -bool true
  sudo mkdir -p "$PW_LOCAL_BIN"
  sudo ln -sf "$PW_SYS_FALSE" "$PW_SWU_SHIM"
fi

# ------------------------------------------------------------------------------- step 13

pw_step 'Creating the worker log'
if [ ! -e "$PW_WORKER_LOG" ]; then
  PW_TMPFILE=$(mktemp "$PW_TMP/.pw-pool-worker-log.XXXXXX")
  printf '# Log created %s - do not manually remove or modify!\n' "$(pw_ts)" >"$PW_TMPFILE"
  chgrp staff "$PW_TMPFILE"
  chmod 0660 "$PW_TMPFILE"
  mv -f "$PW_TMPFILE" "$PW_WORKER_LOG"
fi

# ------------------------------------------------------------------------------- step 14

pw_step 'Starting the supervisor'
pw_pid_state "$PW_SUPERVISOR_PID" service_pool.sh
if [ "$PW_STATE" = alive ]; then
  pw_log "Supervisor already running as pid $PW_PID"
else
  "$PW_BASH" "$PW_LIBEXEC/service_pool.sh" </dev/null >>"$PW_SETUP_LOG" 2>&1 &
  pw_put "$PW_SUPERVISOR_PID" "$!"
  pw_log "Spawned the supervisor as pid $!"
fi

# ------------------------------------------------------------------------------- step 15

pw_ts >>"$PW_SETUP_DONE"
PW_COMPLETED=1
pw_log "$(pw_ts) Setup complete"
