# shellcheck shell=bash
# mount (no arguments): the mount table, with the volumes diskutil added.
sb_record
[ $# -eq 0 ] || sb_reject 'the sandbox knows only: mount (no arguments)'
echo "/dev/disk5s1s1 on $SB_ROOT/ (apfs, sealed, local, read-only, journaled)"
while read -r dev _name _container mp; do
  [ -n "$mp" ] && echo "/dev/$dev on $mp (apfs, local, journaled, nobrowse)"
done <"$SB_STATE/volumes"
exit 0
