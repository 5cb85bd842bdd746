# shellcheck shell=bash
# brew tap <t> | trust --help | trust <t> | list --formula -1 | install <formula>...
# Refuses root, like Homebrew. state/brew-taps and state/brew-formulas hold what is installed;
# installing cirrus puts the cirrus stand-in at <root>/opt/homebrew/bin/cirrus.
sb_record
if [ "$SB_USER" = root ]; then
  echo 'Error: Running Homebrew as root is extremely dangerous and no longer supported.' >&2
  exit 1
fi
add_line() { grep -q -x -F -e "$2" "$1" 2>/dev/null || printf '%s\n' "$2" >>"$1"; }
case ${1:-} in
  tap)
    [ $# -eq 2 ] || sb_reject 'usage: brew tap <user/repo>'
    [[ $2 =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || {
      echo "Error: Invalid tap name '$2'" >&2
      exit 1
    }
    add_line "$SB_STATE/brew-taps" "$2"
    ;;
  trust)
    [ $# -eq 2 ] || sb_reject 'usage: brew trust <tap>'
    [ "$2" = --help ] && exit 0
    grep -q -x -F -e "$2" "$SB_STATE/brew-taps" 2>/dev/null || {
      echo "Error: No available tap $2." >&2
      exit 1
    }
    add_line "$SB_STATE/brew-trusted" "$2"
    ;;
  list)
    [ "$*" = 'list --formula -1' ] || sb_reject 'the sandbox knows only: brew list --formula -1'
    cat "$SB_STATE/brew-formulas" 2>/dev/null
    exit 0
    ;;
  install)
    shift
    [ $# -ge 1 ] || sb_reject 'usage: brew install <formula>...'
    for f in "$@"; do
      case $f in -*) sb_reject "unknown option $f" ;; esac
      name=${f##*/}
      if [ "$name" = cirrus ]; then
        mkdir -p "$SB_ROOT/opt/homebrew/bin"
        cp "$SB_BASE/lib/cirrus" "$SB_ROOT/opt/homebrew/bin/cirrus" && chmod 0755 "$SB_ROOT/opt/homebrew/bin/cirrus"
      fi
      add_line "$SB_STATE/brew-formulas" "$name"
      echo "==> Installing $f"
    done
    ;;
  *) sb_reject "unknown command ${1:-} (the sandbox knows tap, trust, list, install)" ;;
esac
