#!/bin/bash
# vm test 5: a power cut while the guest writes to its root filesystem; the board powers it on
# again and the guest is healthy: it boots to 'running' with no failed unit, data synced before
# the cut is intact, every file the writer had finished (fsync'ed) is complete, and the kernel
# reports no filesystem error.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

FILE_MIB=4
vm_up
boot_before=$(g cat /proc/sys/kernel/random/boot_id)
g sh -c 'echo "synced before the cut" >/var/lib/powercut-marker && sync /var/lib/powercut-marker'
# the writer: files of FILE_MIB MiB, each fsync'ed, then the count of finished files
g systemd-run --unit=powercut-writer --quiet sh -c "
	mkdir -p /var/tmp/pc; i=0
	while :; do
		dd if=/dev/urandom of=/var/tmp/pc/f\$i bs=1M count=$FILE_MIB conv=fsync status=none
		i=\$((i + 1)); echo \$i >/var/tmp/pc/count
	done"
end=$((SECONDS + 180))
until [ "$(g cat /var/tmp/pc/count 2>/dev/null || echo 0)" -ge 3 ]; do
	[ $SECONDS -lt $end ] || fail "the writer did not finish 3 files within 180 s"
	sleep 0.5
done
check_eq "writer still writing at the cut" "$(g systemctl is-active powercut-writer.service)" active
say "power cut at $(g cat /var/tmp/pc/count) finished files"

"$VM" powercut
boot_after=$(g cat /proc/sys/kernel/random/boot_id)
[ "$boot_after" != "$boot_before" ] || fail "the boot id did not change: the guest was not powered off"
check_eq "system state after the power cut" "$(g systemctl is-system-running)" running
check_eq "failed units" "$(g systemctl --failed --no-legend --plain | wc -l)" 0
check_eq "marker synced before the cut" "$(g cat /var/lib/powercut-marker)" "synced before the cut"
count=$(g sh -c 'cat /var/tmp/pc/count 2>/dev/null || true')
[ -n "$count" ] || count=0
say "$count files recorded as finished; files present: $(g sh -c 'ls /var/tmp/pc | wc -l')"
for i in $(seq 0 $((count - 1))); do
	size=$(g stat -c %s "/var/tmp/pc/f$i")
	[ "$size" = $((FILE_MIB * 1048576)) ] || fail "/var/tmp/pc/f$i was finished before the cut but has $size bytes"
done
echo "ok: all $count finished files are complete"
errors=$(g sh -c 'dmesg | grep -E "EXT4-fs (error|warning)|I/O error|Buffer I/O" || true')
[ -z "$errors" ] || fail "kernel reports filesystem errors after the power cut: $errors"
echo "ok: no filesystem errors in the kernel log"
# the filesystem takes writes again
g sh -c 'echo after >/var/tmp/after-cut && sync /var/tmp/after-cut'
