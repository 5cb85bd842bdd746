# shellcheck shell=bash
# mdutil -a -i off (root).
sb_record
[ "$*" = '-a -i off' ] || sb_reject 'the sandbox knows only: mdutil -a -i off'
sb_need_root
printf '/:\n\tIndexing disabled.\n'
