# shellcheck shell=bash
# diskutil list [internal|external] [physical|virtual] | apfs list [<container>]
#   | apfs addVolume <container> APFS <name> -mountpoint <path> | mount -mountPoint <path> <dev>
# One internal disk (disk0) whose main APFS container is disk3; state/volumes holds
# "<dev> <name> <container> <mountpoint>" lines for the volumes added here.
sb_record
internal_listing() {
  cat <<'OUT'
/dev/disk0 (internal, physical):
   #:                       TYPE NAME                    SIZE       IDENTIFIER
   0:      GUID_partition_scheme                        *251.0 GB   disk0
   1:             Apple_APFS_ISC Container disk1         524.3 MB   disk0s1
   2:                 Apple_APFS Container disk3         245.1 GB   disk0s2
   3:        Apple_APFS_Recovery Container disk2         5.4 GB     disk0s3

OUT
}
external_listing() {
  cat <<'OUT'
/dev/disk4 (external, physical):
   #:                       TYPE NAME                    SIZE       IDENTIFIER
   0:      GUID_partition_scheme                        *107.4 GB   disk4
   1:                        EFI EFI                     209.7 MB   disk4s1
   2:                 Apple_APFS Container disk5         107.2 GB   disk4s2

OUT
}
volume_block() { # dev name role mountpoint
  cat <<OUT
    |
    +-> Volume $1 8D1E5E0C-0000-4000-8000-$(printf '%012d' "${1##*s}")
    |   ---------------------------------------------------
    |   APFS Volume Disk (Role):   $1 ($3)
    |   Name:                      $2 (Case-insensitive)
    |   Mount Point:               ${4:-Not Mounted}
    |   Capacity Consumed:         1048576 B (1.0 MB)
    |   Sealed:                    No
    |   FileVault:                 No
OUT
}
apfs_list() {
  echo 'APFS Container (1 found)'
  echo '|'
  echo '+-- Container disk3 5C8E5E0C-0000-4000-8000-000000000003'
  echo '    ===================================================='
  echo '    APFS Container Reference:     disk3'
  echo '    Size (Capacity Ceiling):      245107195904 B (245.1 GB)'
  echo '    |'
  echo '    +-< Physical Store disk0s2 5C8E5E0C-0000-4000-8000-000000000002'
  volume_block disk3s1 InternalDisk 'No specific role' ''
  while read -r dev name container mp; do
    [ "$container" = disk3 ] && volume_block "$dev" "$name" 'No specific role' "$mp"
  done <"$SB_STATE/volumes"
}
case "${1:-} ${2:-}" in
  'list '*)
    shift
    filter_io='' filter_kind=''
    for a in "$@"; do
      case $a in
        internal | external) filter_io=$a ;;
        physical | virtual) filter_kind=$a ;;
        *) sb_reject "unknown list filter $a" ;;
      esac
    done
    if [ "$filter_kind" = virtual ]; then exit 0; fi
    if [ "$filter_io" != external ]; then internal_listing; fi
    if [ "$filter_io" != internal ]; then external_listing; fi
    ;;
  'apfs list')
    [ $# -le 3 ] || sb_reject 'usage: diskutil apfs list [container]'
    if [ $# -eq 3 ] && [ "$3" != disk3 ]; then
      echo "Error: $3 is not an APFS Container" >&2
      exit 1
    fi
    apfs_list
    ;;
  'apfs addVolume')
    [ $# -eq 7 ] && [ "$4" = APFS ] && [ "$6" = -mountpoint ] ||
      sb_reject 'the sandbox knows only: apfs addVolume <container> APFS <name> -mountpoint <path>'
    sb_need_root
    container=$3 name=$5 mp=$7
    [ "$container" = disk3 ] || {
      echo "Error: $container is not an APFS Container" >&2
      exit 1
    }
    n=7
    while read -r dev _ _ _; do
      if [ "${dev##*s}" -ge "$n" ]; then n=$((${dev##*s} + 1)); fi
    done <"$SB_STATE/volumes"
    mkdir -p "$mp" || exit 1
    printf 'disk3s%s %s disk3 %s\n' "$n" "$name" "$mp" >>"$SB_STATE/volumes"
    echo "Will export new APFS (Case-insensitive) Volume \"$name\" from APFS Container Reference disk3"
    echo "Started APFS operation on disk3"
    echo "Finished APFS operation on disk3"
    ;;
  'mount -mountPoint')
    [ $# -eq 4 ] || sb_reject 'usage: diskutil mount -mountPoint <path> <device>'
    sb_need_root
    mp=$3 want=$4 found=no
    tmp="$SB_STATE/volumes.tmp.$$"
    : >"$tmp"
    while read -r dev name container old; do
      if [ "$dev" = "$want" ]; then
        found=yes
        old=$mp
      fi
      printf '%s %s %s %s\n' "$dev" "$name" "$container" "$old" >>"$tmp"
    done <"$SB_STATE/volumes"
    mv -f "$tmp" "$SB_STATE/volumes"
    [ "$found" = yes ] || {
      echo "Unable to find disk for $want" >&2
      exit 1
    }
    mkdir -p "$mp"
    echo "Volume on $want mounted"
    ;;
  *) sb_reject 'the sandbox knows: list, apfs list, apfs addVolume, mount -mountPoint' ;;
esac
