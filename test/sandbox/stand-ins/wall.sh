# shellcheck shell=bash
# wall (no arguments): the message comes on stdin and is recorded with the call.
[ $# -eq 0 ] || {
  sb_record
  sb_reject 'the sandbox knows only: wall (message on stdin)'
}
message=$(cat)
sb_json "$message"
sb_record "\"stdin\":$SB_JSON"
