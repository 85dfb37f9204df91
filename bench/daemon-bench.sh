#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks of the daemon (issue 9), in ONE session of the QEMU guest (tests/vm), with the
# daemon installed from the build as in vm test 15:
#
# 1. udev add -> BundleFound: for every stick the daemon handles, the time from udev's "add"
#    event of the stick's partition (udevadm monitor, in the guest) to the daemon's
#    BundleFound D-Bus signal (dbus-monitor, in the guest), both on the guest's monotonic
#    clock. With the daemon running (it follows udisks2) and, in extra rounds, stopped (the
#    udev rule starts it).
# 2. plug -> deployed through the daemon against `mediaupdctl apply --local` of the same
#    bundle on the same stick, alternating, ROUNDS of each, every round from the same system
#    state (the new deployment undeployed, the ref reset, the repo pruned; checked). The
#    daemon: udev add -> the engine's deployed event, and its install start (the engine's
#    bundle-found event in the worker) -> deployed; apply --local: command start -> exit,
#    and its own install start -> deployed. The phase times come from the engine's journal
#    events.
#
# Bundles: "full" (--empty -> version 2: the whole test OS, ~80 MB) and "small" (the 1 -> 2
# delta), made by scripts/make-encrypted-bundle.sh from the image's repo (read only) and
# kept in MEDIAUPD_BENCH_CACHE for the next run.
#
# Usage (as root, the build set up with meson):
#   MEDIAUPD_BUILD_ROOT=$PWD/build bench/daemon-bench.sh
# Environment: MEDIAUPD_BENCH_ROUNDS (5: rounds of each method per bundle),
# MEDIAUPD_BENCH_COLD_ROUNDS (3: latency rounds with the daemon stopped),
# MEDIAUPD_BENCH_BUNDLES ("full small"), MEDIAUPD_BENCH_METHODS ("daemon local": the daemon's
# rounds, the apply --local ones, or both), MEDIAUPD_BENCH_SERVICE (extra [Service] lines for
# mediaupd.service, separated by ';', e.g. to measure without part of its sandbox),
# MEDIAUPD_BENCH_NAME (a name for the run, in the file names), MEDIAUPD_BENCH_OUT
# (bench/results), MEDIAUPD_BENCH_CACHE (/var/tmp/mediaupd-bench), and those of tests/vm
# (README.md there).
# Writes OUT/daemon-bench-STAMP[-NAME].csv (one row per round, guest timestamps and derived
# times), .txt (machine, load, summary tables) and .logs/ (the guest's raw udev, D-Bus and
# journal records).

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
export MEDIAUPD_BUILD_ROOT=${MEDIAUPD_BUILD_ROOT:-$BENCH_DIR/../build}
# The guest session, its helpers and its cleanup are those of the vm suite.
# shellcheck source=SCRIPTDIR/../tests/vm/tests/lib.sh
. "$BENCH_DIR/../tests/vm/tests/lib.sh"
# shellcheck source=SCRIPTDIR/../tests/vm/tests/engine-lib.sh
. "$BENCH_DIR/../tests/vm/tests/engine-lib.sh"
# shellcheck source=SCRIPTDIR/../tests/vm/tests/daemon-lib.sh
. "$BENCH_DIR/../tests/vm/tests/daemon-lib.sh"
# shellcheck source=SCRIPTDIR/bench-lib.sh
. "$BENCH_DIR/bench-lib.sh"

ROUNDS=${MEDIAUPD_BENCH_ROUNDS:-5}
COLD_ROUNDS=${MEDIAUPD_BENCH_COLD_ROUNDS:-3}
read -r -a BUNDLES <<<"${MEDIAUPD_BENCH_BUNDLES:-full small}"
METHODS=" ${MEDIAUPD_BENCH_METHODS:-daemon local} "
IFS=';' read -r -a SERVICE_LINES <<<"${MEDIAUPD_BENCH_SERVICE:-}"
OUT=${MEDIAUPD_BENCH_OUT:-$BENCH_DIR/results}
CACHE=${MEDIAUPD_BENCH_CACHE:-/var/tmp/mediaupd-bench}
REPORT=$BENCH_DIR/bench-report.py
# the guest's records (bench/guest/monitor.sh) and the flag that keeps the daemon from starting
GDIR=/run/mediaupd-bench
HOLD=$GDIR/hold
BENCH_DROPIN=/etc/systemd/system/mediaupd.service.d/60-bench.conf
STAMP=$(date -u +%Y%m%d-%H%M)${MEDIAUPD_BENCH_NAME:+-$MEDIAUPD_BENCH_NAME}
COMMIT=$(git -C "$SRC_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
CSV=$OUT/daemon-bench-$STAMP.csv
TXT=$OUT/daemon-bench-$STAMP.txt
LOGS=$OUT/daemon-bench-$STAMP.logs

[ -x "$MEDIAUPD_BUILD_ROOT/daemon/mediaupd/mediaupd" ] ||
	fail "no daemon in $MEDIAUPD_BUILD_ROOT: set MEDIAUPD_BUILD_ROOT to a compiled build"
mkdir -p "$OUT" "$CACHE" "$LOGS"

# --- bundles and sticks, made before the guest is up (the guest lock is held meanwhile) ----
eval "$("$VM" info)"
for b in "${BUNDLES[@]}"; do
	f=$(bench_v1_bundle "$b")
	daemon_stick "$T_WORK/stick-$b.img" "$f"
	say "bundle $b: $(stat -c %s "$f") bytes, stick $T_WORK/stick-$b.img"
done
if [ "$COLD_ROUNDS" -gt 0 ]; then
	# the cold rounds measure the latency only: the small bundle, or the first one given
	cold_bundle=${BUNDLES[-1]}
fi
printf 'not an update bundle\n' >"$T_WORK/README.txt"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick-warmup.img" "$T_WORK/README.txt" >/dev/null

# --- the guest: the daemon installed, the recorders running -------------------------------
vm_up
guest_setup
daemon_install
daemon_conf '[Reboot]' 'Policy=never'
g mkdir -p "${BENCH_DROPIN%/*}" "$GDIR"
g sh -c "printf '%s\n' '[Unit]' 'ConditionPathExists=!$HOLD' '[Service]' \"\$@\" >$BENCH_DROPIN" \
	sh "${SERVICE_LINES[@]}"
g systemctl daemon-reload
daemon_restart
g "$GUEST_SRC/bench/guest/monitor.sh" "$GDIR"

# record BUNDLE METHOD ROUND DAEMON MARK [CMD_START CMD_END]: the round's CSV row
record() {
	g cat "$GDIR/udev.log" >"$T_WORK/udev.log"
	g cat "$GDIR/dbus.log" >"$T_WORK/dbus.log"
	g journalctl -b -o json --no-pager --output-fields=MESSAGE_ID,_COMM,_SYSTEMD_UNIT,MESSAGE \
		MESSAGE_ID=0225d7dc771eb4c05bc9c16dd600d6d1 MESSAGE_ID=1df9a685b26b0fdf3c5e51fa16ca7ac5 \
		MESSAGE_ID=aa0b65aa8ffe85f686f013cb4ffa7ac8 MESSAGE_ID=7abdbd5b2608995c8fa3ed490f1625fa \
		MESSAGE_ID=a4e6b84b811cddf92a52a9a044444c78 >"$T_WORK/journal.json"
	# the last round's records stay in LOGS if the round has no row
	mkdir -p "$LOGS"
	cp "$T_WORK/udev.log" "$T_WORK/dbus.log" "$T_WORK/journal.json" "$LOGS/"
	"$REPORT" round "$1" "$2" "$3" "$4" "$(host_load)" "$5" "$T_WORK/udev.log" \
		"$T_WORK/dbus.log" "$T_WORK/journal.json" "${@:6}" >>"$CSV"
	say "round $3 $1 $2 (daemon $4): $(tail -n 1 "$CSV")"
}

# cpu_ticks: the CPU time (user + system, clock ticks) so far of the daemon's main process
# (not its worker), dbus-daemon and udisksd, on one line
cpu_ticks() {
	# shellcheck disable=SC2016 # (expanded in the guest)
	g sh -c 'for p in $(systemctl show -p MainPID --value mediaupd.service) $(pidof dbus-daemon) \
		$(pidof udisksd); do awk "{ printf \"%s \", \$14 + \$15 }" /proc/$p/stat; done; echo'
}

# daemon_round BUNDLE ROUND running|stopped: plug the stick, the daemon installs it
daemon_round() {
	local bundle=$1 n=$2 daemon=$3 mark cpu0=
	[ "$daemon" = running ] && cpu0=$(cpu_ticks)
	if [ "$daemon" = stopped ]; then
		g systemctl stop mediaupd.service
		check_eq "mediaupd.service before the plug" \
			"$(g systemctl is-active mediaupd.service || true)" inactive
	fi
	mark=$(guest_now)
	"$VM" plug usb "$T_WORK/stick-$bundle.img" "stick-$n"
	"$VM" exec --timeout 2000 -- timeout 1800 sh -c "until awk -v m=$mark \
		'\$1 > m && /member=Completed/ { f = 1 } END { exit !f }' $GDIR/dbus.log; do
		sleep 0.5; done" || fail "no Completed signal within 1800 s of the plug"
	daemon_wait_rest 120
	check_eq "LastError after round $n" "$(daemon_last_error)" '(ss) "" ""'
	check_eq "deployment 0 after round $n" "$(default_commit)" "$VM_COMMIT_2"
	record "$bundle" daemon "$n" "$daemon" "$mark"
	if [ -n "$cpu0" ]; then
		# what the daemon, the bus and udisks2 used of the CPU while the worker installed
		printf 'round %s: CPU ticks (daemon, dbus-daemon, udisksd) before %s, after %s\n' \
			"$n" "$cpu0" "$(cpu_ticks)" >>"$LOGS/cpu.txt"
		say "$(tail -n 1 "$LOGS/cpu.txt")"
	fi
	"$VM" unplug "stick-$n"
	wait_gone
	daemon_clean_after "round $n"
	restore
}

# local_round BUNDLE ROUND: the daemon held off, the stick mounted by udisks2 as the daemon
# has it mounted, `mediaupdctl apply --local` of the bundle on it
local_round() {
	local bundle=$1 n=$2 mark mnt times
	g touch "$HOLD"
	g systemctl stop mediaupd.service
	mark=$(guest_now)
	"$VM" plug usb "$T_WORK/stick-$bundle.img" "stick-$n"
	g timeout 60 sh -c "until udisksctl info -b /dev/sda1 2>/dev/null | grep -q 'IdType: *vfat\$'; do
		sleep 0.1; done" || fail "udisks2 did not report the stick's filesystem within 60 s"
	mnt=$(g udisksctl mount --no-user-interaction -b /dev/sda1 -o ro,nosuid,nodev,noexec |
		sed -n 's/^Mounted .* at \(.*\)$/\1/p' | sed 's/\.$//')
	[ -n "$mnt" ] || fail "udisksctl did not mount the stick"
	# shellcheck disable=SC2016 # (expanded in the guest)
	times=$("$VM" exec --timeout 2000 -- sh -c 'read -r a _ </proc/uptime
		mediaupdctl apply --local "$1" --json --config "$2" >"$3/local.out" 2>"$3/local.err"
		rc=$?; read -r b _ </proc/uptime; echo "$a $b $rc"' sh \
		"$mnt/static-update.bundle.enc" "$GUEST_CONF" "$GDIR")
	read -r t_start t_end rc <<<"$times"
	[ "$rc" = 0 ] || {
		g cat "$GDIR/local.out" "$GDIR/local.err"
		fail "mediaupdctl apply --local exited $rc in round $n"
	}
	check_eq "deployment 0 after round $n" "$(default_commit)" "$VM_COMMIT_2"
	record "$bundle" local "$n" stopped "$mark" "$t_start" "$t_end"
	g udisksctl unmount --no-user-interaction -b /dev/sda1 >/dev/null
	"$VM" unplug "stick-$n"
	wait_gone
	restore
	g rm -f "$HOLD"
	daemon_restart
}

snapshot >"$T_WORK/state.start"
"$REPORT" header >"$CSV"
# The first plug after the boot loads the USB storage modules, and the daemon mounts its
# first medium: a stick without a bundle, measured nowhere.
"$VM" plug usb "$T_WORK/stick-warmup.img" warmup
g timeout 60 sh -c 'until [ -e /dev/sda1 ]; do sleep 0.2; done' || fail "the warm-up stick did not come"
sleep 5
daemon_wait_rest 60
"$VM" unplug warmup
wait_gone

n=0
for b in "${BUNDLES[@]}"; do
	for _ in $(seq 1 "$ROUNDS"); do
		if [[ $METHODS == *" daemon "* ]]; then
			n=$((n + 1))
			daemon_round "$b" "$n" running
		fi
		if [[ $METHODS == *" local "* ]]; then
			n=$((n + 1))
			local_round "$b" "$n"
		fi
	done
	if [ "${cold_bundle:-}" = "$b" ]; then
		for _ in $(seq 1 "$COLD_ROUNDS"); do
			n=$((n + 1))
			daemon_round "$b" "$n" stopped
			daemon_restart
		done
	fi
done

# --- the records and the summary ------------------------------------------------------------
g cat "$GDIR/udev.log" >"$LOGS/udev.log"
g cat "$GDIR/dbus.log" >"$LOGS/dbus.log"
g journalctl -b -o short-monotonic --no-pager -u mediaupd.service SYSLOG_IDENTIFIER=mediaupd \
	>"$LOGS/journal.txt"
{
	echo "# mediaupd daemon benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	bench_machine
	for b in "${BUNDLES[@]}"; do
		echo "bundle $b: $(stat -c %s "$(bench_v1_bundle "$b")") bytes"
	done
	echo "rounds: $ROUNDS per method and bundle ($METHODS), $COLD_ROUNDS with the daemon stopped"
	echo "mediaupd.service drop-in:"
	g cat "$BENCH_DROPIN" | sed 's/^/    /'
	echo
	"$REPORT" summary "$CSV"
} >"$TXT"
cat "$TXT"
say "results: $CSV, $TXT, $LOGS"
