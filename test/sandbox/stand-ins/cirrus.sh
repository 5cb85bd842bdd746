# shellcheck shell=bash
# cirrus worker run --file /dev/stdin: reads the YAML config from stdin (never printing the
# token; its SHA-256 goes to state/cirrus-token.sha256), appends the logrus registration line to
# the worker log the config names, then serves commands dropped into state/cirrus-inbox/*.cmd
# (one per line: 'tasks <n>', 'start-task', 'finish-task <id>', 'line <raw text>',
# 'job start', 'job stop') until it is killed. A job is a child process whose command line
# matches 'cirrus-[0-9][^ ]*-darwin-arm64 agent '; killing the listener cancels it.
sb_record
[ "$*" = 'worker run --file /dev/stdin' ] || sb_reject 'the sandbox knows only: worker run --file /dev/stdin'
name='' token='' logfile=''
while IFS= read -r line; do
  case $line in
    'name: "'*'"')
      name=${line#'name: "'}
      name=${name%'"'}
      ;;
    'token: "'*'"')
      token=${line#'token: "'}
      token=${token%'"'}
      ;;
    '  file: "'*'"')
      logfile=${line#'  file: "'}
      logfile=${logfile%'"'}
      ;;
  esac
done
if [ -z "$name" ] || [ -z "$token" ] || [ -z "$logfile" ]; then
  echo 'time="'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'" level=fatal msg="invalid config: name, token and log.file are required"' >&2
  exit 1
fi
printf '%s' "$token" | sha256sum | cut -c1-64 >"$SB_STATE/cirrus-token.sha256"
token=''

logrus() {
  printf 'time="%s" level=%s msg="%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" >>"$logfile"
}
job_pid=''
stop_job() {
  if [ -n "$job_pid" ]; then
    kill "$job_pid" 2>/dev/null
    wait "$job_pid" 2>/dev/null
    job_pid=''
  fi
}
trap 'stop_job; exit 0' TERM INT

logrus info "worker successfully registered on upstream grpc.cirrus-ci.com:443"
task=0
inbox="$SB_STATE/cirrus-inbox"
while :; do
  for f in "$inbox"/*.cmd; do
    [ -e "$f" ] || continue
    while IFS= read -r cmd || [ -n "$cmd" ]; do
      case $cmd in
        'tasks '*)
          for ((i = 0; i < ${cmd#tasks }; i++)); do
            task=$((task + 1))
            logrus info "started task $task"
            logrus info "task $task completed"
          done
          ;;
        start-task)
          task=$((task + 1))
          logrus info "started task $task"
          ;;
        'finish-task '*) logrus info "task ${cmd#finish-task } completed" ;;
        'line '*) printf '%s\n' "${cmd#line }" >>"$logfile" ;;
        'job start')
          if [ -z "$job_pid" ]; then
            /bin/bash "$SB_STATE/agent/cirrus-0.150.0-darwin-arm64" agent --task-id "$task" </dev/null >/dev/null 2>&1 &
            job_pid=$!
          fi
          ;;
        'job stop') stop_job ;;
        *) echo "cirrus stand-in: unknown inbox command: $cmd" >&2 ;;
      esac
    done <"$f"
    rm -f "$f"
  done
  sleep 0.1
done
