# shellcheck shell=bash
# softwareupdate --install-rosetta --agree-to-license (root): makes 'arch -arch x86_64' work.
sb_record
[ "$*" = '--install-rosetta --agree-to-license' ] ||
  sb_reject 'the sandbox knows only: --install-rosetta --agree-to-license'
sb_need_root
: >"$SB_STATE/rosetta"
echo 'Install of Rosetta 2 finished successfully'
