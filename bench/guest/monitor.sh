#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest side of bench/daemon-bench.sh: records in the background, on the guest's monotonic
# clock, for as long as the guest runs:
#   DIR/udev.log  what udev sends out for block devices (`udevadm monitor --udev --kernel`:
#                 udevadm stamps each event with CLOCK_MONOTONIC when it receives it)
#   DIR/dbus.log  on the system bus (`dbus-monitor`): every signal of interface
#                 org.mediaupd.Manager1 and of udisks2, the calls of udisks2's Filesystem
#                 methods (Mount, Unmount) and udisks2's replies; each line prefixed with the
#                 uptime when it was read
#                 (10 ms resolution; the guest never suspends, so uptime is that clock too)
# Returns once both listen. Usage (as root): monitor.sh DIR
set -euo pipefail

dir=${1:?usage: monitor.sh DIR}
mkdir -p "$dir"
rm -f "$dir/udev.log" "$dir/dbus.log"

stdbuf -oL udevadm monitor --udev --kernel --subsystem-match=block \
	</dev/null >"$dir/udev.log" 2>&1 &

(
	dbus-monitor --system "type='signal',interface='org.mediaupd.Manager1'" \
		"type='signal',sender='org.freedesktop.UDisks2'" \
		"type='method_call',interface='org.freedesktop.UDisks2.Filesystem'" \
		"type='method_return',sender='org.freedesktop.UDisks2'" |
		while IFS= read -r line; do
			read -r up _ </proc/uptime
			printf '%s %s\n' "$up" "$line"
		done
) </dev/null >"$dir/dbus.log" 2>&1 &

# Listening: udevadm printed its banner, and a signal sent now comes through the pipe.
for _ in $(seq 1 100); do
	dbus-send --system --type=signal /org/mediaupd/Manager1 org.mediaupd.Manager1.BenchPing
	if grep -q '^monitor will print' "$dir/udev.log" && grep -q 'member=BenchPing' "$dir/dbus.log"; then
		exit 0
	fi
	sleep 0.2
done
echo "monitor.sh: udevadm monitor or dbus-monitor did not start (see $dir)" >&2
exit 1
