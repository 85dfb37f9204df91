#!/bin/bash
# vm test 14: the daemon's udisks2 media source (daemon/mediaupd/mu-media-udisks.c) on the real
# guest, through mediaupd-test-media (test-only), which prints what the source reports. One
# boot: an SD card present before the start and a USB stick plugged later are reported with
# their bus, mounted ro,nosuid,nodev,noexec (per /proc/self/mountinfo) and unmounted without a
# trace; the internal disks, a loop device and a device-mapper mapping, each with a filesystem,
# are never reported; pulling a medium is reported, and mounting it then is MediaRemoved; with
# udisks2 stopped and not startable the source still starts, and reports the stick once
# udisks2 is back.
# shellcheck source-path=SCRIPTDIR disable=SC2016
. "$(dirname "$0")/lib.sh"

GUEST_MEDIA=/run/mediaupd-vm/build/tests/vm/mediaupd-test-media
LOG=/run/mediaupd-test-media.log
UNIT=mediaupd-test-media

# watcher_start ARGS...: the media source in a transient unit, its lines in $LOG
watcher_start() {
	g rm -f "$LOG"
	g systemd-run --quiet --unit="$UNIT" -p StandardOutput=file:"$LOG" \
		-p StandardError=journal "$GUEST_MEDIA" "$@"
	wait_line '^started$'
}
watcher_stop() {
	g systemctl stop "$UNIT"
	wait_line '^stopped$'
}
# wait_line REGEX [SECONDS]: until a line of $LOG matches (extended regex)
wait_line() {
	g timeout "${2:-30}" sh -c "until grep -Eq -- '$1' $LOG 2>/dev/null; do sleep 0.1; done" || {
		g cat "$LOG" || true
		g journalctl --no-pager -u "$UNIT" | tail -n 20 || true
		fail "the media source printed no line matching '$1' within ${2:-30} s"
	}
}
# line REGEX: the one line of $LOG matching
line() {
	local out
	out=$(g grep -E -- "$1" "$LOG" || true)
	[ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] || fail "expected one line matching '$1', got: '$out'"
	printf '%s\n' "$out"
}
# check_mount_cycle DEVICE: mounted with the options, unmounted, no mount of DEVICE left
check_mount_cycle() {
	local dev=$1 mounted opt
	wait_line "^unmounted $dev "
	mounted=$(line "^mounted $dev ")
	for opt in ro nosuid nodev noexec; do
		case ",${mounted##*options=}," in
		*",$opt,"*) ;;
		*) fail "$dev was mounted without $opt: $mounted" ;;
		esac
	done
	echo "ok: $dev mounted with ro,nosuid,nodev,noexec (${mounted##*options=})"
	check_eq "mount point of $dev left after the unmount" "$(line "^unmounted $dev ")" \
		"unmounted $dev left=0"
	check_eq "mounts of $dev in the guest" \
		"$(g sh -c "findmnt -rn -S $dev -o TARGET | wc -l")" 0
	! g grep -q "^mount-error $dev" "$LOG" || fail "mount of $dev failed: $(g cat "$LOG")"
}
# check_not_reported: no internal disk, loop or dm device was ever reported
check_not_reported() {
	local bad
	bad=$(g sh -c "grep -E '^added /dev/(vd|loop|dm-|sr|mapper)' $LOG || true")
	[ -z "$bad" ] || fail "the media source reported a device that is not removable media: $bad"
}

vm_up
printf 'not a bundle\n' >"$T_WORK/readme.txt"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs vfat --label STICK1 "$T_WORK/readme.txt"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/card.img" --fs ext4 --label CARD1 "$T_WORK/readme.txt"

# What udisks2 sees on a bare guest: the internal disks have filesystems too.
g sh -c 'udisksctl dump | grep -q "Device: */dev/vda"' || fail "udisks2 does not show the internal disk /dev/vda"
loops_before=$(g losetup -n -O NAME | wc -l)

# A loop device with a filesystem before the start, as an install leaves while it runs.
g sh -c 'truncate -s 16M /var/tmp/loopfs.img && mkfs.ext4 -q -L LOOPFS /var/tmp/loopfs.img &&
	losetup -f --show /var/tmp/loopfs.img >/run/loopfs.dev'
loop_dev=$(g cat /run/loopfs.dev)
g timeout 20 sh -c "until udisksctl info -b $loop_dev | grep -q 'IdType: *ext4'; do sleep 0.2; done" ||
	fail "udisks2 did not see the filesystem on $loop_dev"

# The SD card is in the slot before the source starts: reported by start().
latency=$(plug_and_wait sd "$T_WORK/card.img" card /dev/mmcblk0p1 ext4)
say "SD card seen by udisks2 after $latency s"
watcher_start --mount
wait_line '^added /dev/mmcblk0p1 '
check_eq "SD card as reported at start" "$(line '^added /dev/mmcblk0p1 ' | cut -d' ' -f1-5)" \
	"added /dev/mmcblk0p1 bus=sd fs=ext4 label=CARD1"
check_mount_cycle /dev/mmcblk0p1

# A device-mapper mapping with a filesystem while the source runs, as the bundle's own.
g sh -c 'truncate -s 16M /var/tmp/dmfs.img && mkfs.ext4 -q -L DMFS /var/tmp/dmfs.img &&
	l=$(losetup -f --show /var/tmp/dmfs.img) && echo $l >/run/dmfs.loop &&
	echo "0 $(blockdev --getsz $l) linear $l 0" | dmsetup create mediaupd-test-linear &&
	udevadm settle'
dm_dev=$(g sh -c 'readlink -f /dev/mapper/mediaupd-test-linear')
g timeout 20 sh -c "until udisksctl info -b $dm_dev | grep -q 'IdType: *ext4'; do sleep 0.2; done" ||
	fail "udisks2 did not see the filesystem on $dm_dev"

# A USB stick plugged while it runs.
t0=$(date +%s.%N)
"$VM" plug usb "$T_WORK/stick.img" stick
wait_line '^added /dev/sda1 '
say "USB stick reported $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the plug"
check_eq "USB stick as reported" "$(line '^added /dev/sda1 ' | cut -d' ' -f1-5)" \
	"added /dev/sda1 bus=usb fs=vfat label=STICK1"
check_mount_cycle /dev/sda1

check_not_reported
check_eq "media reported" "$(g grep -c '^added ' "$LOG")" 2
echo "ok: neither the internal disks, nor $loop_dev, nor $dm_dev ($(g cat /run/dmfs.loop)) were reported"

# Pulled: reported, and a mount of what is gone is MediaRemoved.
t0=$(date +%s.%N)
"$VM" unplug stick
wait_line '^mount-after-removal /dev/sda1 ' 20
say "USB stick removal reported $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the unplug"
check_eq "mount of the pulled stick" "$(line '^mount-after-removal /dev/sda1 ')" \
	"mount-after-removal /dev/sda1 MediaRemoved"
"$VM" unplug card
wait_line '^mount-after-removal /dev/mmcblk0p1 ' 20
check_eq "mount of the ejected card" "$(line '^mount-after-removal /dev/mmcblk0p1 ')" \
	"mount-after-removal /dev/mmcblk0p1 MediaRemoved"
check_eq "removals reported" "$(g grep -c '^removed ' "$LOG")" 2
watcher_stop

# The mapping and loop devices go away again without being reported either.
g sh -c 'dmsetup remove mediaupd-test-linear && losetup -d "$(cat /run/dmfs.loop)" &&
	losetup -d "$(cat /run/loopfs.dev)" && udevadm settle'
check_eq "loop devices after the test" "$(g losetup -n -O NAME | wc -l)" "$loops_before"
check_eq "mounts under /media" "$(g sh -c 'findmnt -rn -o TARGET | grep -c -e ^/media/ -e ^/run/media/ || true')" 0

# Without udisks2 (stopped, and masked so that the bus cannot start it) the source starts all
# the same, and reports the stick as soon as udisks2 is back.
"$VM" plug usb "$T_WORK/stick.img" stick2
g timeout 20 sh -c 'until [ -e /dev/sda1 ]; do sleep 0.1; done' || fail "the stick did not come back"
g systemctl mask --runtime --quiet udisks2.service
g systemctl stop udisks2.service
watcher_start
sleep 3
check_eq "media reported without udisks2" "$(g grep -c '^added ' "$LOG" || true)" 0
g systemctl is-active --quiet "$UNIT" || fail "the media source stopped without udisks2"
echo "ok: the source started and runs without udisks2"
g systemctl unmask --runtime --quiet udisks2.service
g systemctl start udisks2.service
wait_line '^added /dev/sda1 bus=usb fs=vfat label=STICK1 ' 30
echo "ok: the stick was reported once udisks2 came back"
watcher_stop
check_not_reported
"$VM" unplug stick2
