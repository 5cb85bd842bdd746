# shellcheck shell=bash
# uname [-n | -m | -s]: the sandbox hostname, arm64, Darwin.
sb_record
case "$*" in
  -n) cat "$SB_STATE/hostname" ;;
  -m) echo arm64 ;;
  -s | '') echo Darwin ;;
  *) sb_reject "the sandbox knows only -n -m -s" ;;
esac
