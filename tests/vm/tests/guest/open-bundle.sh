#!/bin/bash
# Guest half of vm tests 3 and 4 (runs as root in the guest, from the source share):
#   open-bundle.sh PARTITION BUNDLE_NAME TRUSTED_KEYS TO_COMMIT KEY_FILE...
# Mounts PARTITION read-only through udisks2, attaches BUNDLE_NAME from it to a read-only loop
# device, tries the KEY_FILEs in order with real dm-crypt (all but the last must be refused,
# the last must open it), mounts the inner image read-only, verifies delta/superblock with
# `mediaupd-bundle verify`, lets stock ostree apply the delta to the system repo (which holds
# the from-commit), checks TO_COMMIT is there, and tears everything down. Fails if any step
# fails or if a mapping, loop device or mount is left.
set -euo pipefail

part=$1 name=$2 trusted=$3 to=$4
shift 4
keys=("$@")
map=mediaupd-vmtest
inner=/run/mediaupd-vmtest-inner
fail() {
	echo "FAIL: $*"
	exit 1
}

udisksctl mount -b "$part" -o ro,nosuid,nodev,noexec >/dev/null
stick=$(findmnt -n -o TARGET --source "$part" | head -1)
[ -n "$stick" ] || fail "udisks2 did not mount $part"
echo "ok: $part mounted read-only at $stick ($(findmnt -n -o FSTYPE,OPTIONS --source "$part" | head -1))"
[ -f "$stick/$name" ] || fail "no $name on $part"

loop=$(losetup --find --show --read-only "$stick/$name")
[ "$(cat "/sys/block/${loop#/dev/}/ro")" = 1 ] || fail "$loop is not read-only"
echo "ok: $name on read-only loop device $loop"

last=$((${#keys[@]} - 1))
for i in "${!keys[@]}"; do
	if cryptsetup open --type luks2 --readonly --key-file "${keys[$i]}" "$loop" "$map" 2>/dev/null; then
		[ "$i" = "$last" ] || fail "the wrong key ${keys[$i]} opened the bundle"
		echo "ok: key ${keys[$i]##*/} opened the bundle"
	else
		[ "$i" != "$last" ] || fail "the right key ${keys[$i]} did not open the bundle"
		echo "ok: key ${keys[$i]##*/} refused"
	fi
done
target=$(dmsetup table "$map" | awk '{ print $3 }')
[ "$target" = crypt ] || fail "/dev/mapper/$map is a '$target' mapping, not dm-crypt"
[ "$(blockdev --getro "/dev/mapper/$map")" = 1 ] || fail "/dev/mapper/$map is writable"
echo "ok: dm-crypt mapping $map, read-only"

mkdir -p "$inner"
mount -o ro,nosuid,nodev,noexec "/dev/mapper/$map" "$inner"
echo "ok: inner image mounted read-only ($(findmnt -n -o FSTYPE,OPTIONS "$inner"))"
[ -f "$inner/delta/superblock" ] || fail "the inner image has no delta/superblock"
mediaupd-bundle verify --trusted "$trusted" "$inner/delta/superblock"
echo "ok: mediaupd-bundle verified delta/superblock"

if ostree show "$to" >/dev/null 2>&1; then fail "the system repo already holds $to before the apply"; fi
ostree static-delta apply-offline "$inner/delta/superblock"
ostree show "$to" >/dev/null || fail "the to-commit $to is not in the repo after the apply"
version=$(ostree cat "$to" /usr/lib/mediaupd-testos/version) ||
	fail "the files of $to cannot be read from the repo after the apply"
echo "ok: stock ostree applied the delta; $to (test OS version $version) is in the system repo"

umount "$inner"
cryptsetup close "$map"
losetup -d "$loop"
udisksctl unmount -b "$part" >/dev/null
rmdir "$inner"

# nothing left behind
left=$(dmsetup ls | grep -v '^No devices found' || true)
[ -z "$left" ] || fail "device-mapper devices left: $left"
left=$(losetup --list --noheadings)
[ -z "$left" ] || fail "loop devices left: $left"
left=$(findmnt -n --source "$part" || true)
[ -z "$left" ] || fail "$part is still mounted: $left"
if grep -q "$inner" /proc/mounts; then fail "$inner is still mounted"; fi
echo "ok: no mapping, loop device or mount left"
