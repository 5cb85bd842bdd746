# shellcheck shell=bash
# shutdown -h now <message> (root): recorded in state/shutdown; nothing is stopped.
sb_record
[ $# -eq 3 ] && [ "$1" = -h ] && [ "$2" = now ] || sb_reject 'the sandbox knows only: shutdown -h now <message>'
sb_need_root
printf '%s\n' "$3" >>"$SB_STATE/shutdown"
echo 'Shutdown NOW!'
