#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark of bundle format 2 against format 1 (issue 10), in ONE session of the QEMU guest
# (tests/vm). The same full update (--empty -> version 2: the whole test OS, ~80 MB) as a
# format 1 bundle and as a format 2 bundle, each on a vfat USB stick of its own, installed by
# `mediaupdctl apply --local` from the stick mounted by udisks2, the variants alternating,
# ROUNDS of each, every round from the same system state (bench-lib.sh: the deployment
# undeployed, the ref reset, the repo pruned; checked). For each round:
#  - the command's time, start -> exit on the guest's clock, and the engine's phase times
#    from its journal events (unlock, verify, check + apply, deploy);
#  - the bytes the guest read from the stick while the command ran (sectors read in
#    /sys/block/sda/stat before and after it, x 512) over the bundle file's size.
# Variants (MEDIAUPD_BENCH_VARIANTS, in the order of each round):
#   v1         the format 1 bundle (bench-lib.sh: the legacy maker of the tests, or
#              scripts/make-encrypted-bundle.sh where that still makes format 1)
#   v2         `mediaupd-bundle create --empty` of the same commit
#   adiantum   the same with `--cipher adiantum`, the device allowing
#              xchacha12,aes-adiantum-plain64 (only where `create` offers it)
#   manual-v1, manual-v2   the hand-run pipeline on the same bundles (guest/manual-install.sh:
#              losetup, cryptsetup open, mount, mediaupd-bundle verify, ostree static-delta
#              apply-offline, ostree reset, ostree admin deploy), the reference
# Default: "v1 v2 manual-v1 manual-v2", and adiantum after v2 when `create --help` offers it.
#
# Usage (as root, the build set up with meson):
#   MEDIAUPD_BUILD_ROOT=$PWD/build bench/format-bench.sh
# Environment: MEDIAUPD_BENCH_ROUNDS (3: rounds of each variant), MEDIAUPD_BENCH_VARIANTS,
# MEDIAUPD_BENCH_NAME (a name for the run, in the file names), MEDIAUPD_BENCH_OUT
# (bench/results), MEDIAUPD_BENCH_CACHE (/var/tmp/mediaupd-bench: the bundles, kept for the
# next run), and those of tests/vm (README.md there).
# Writes OUT/format-bench-STAMP[-NAME].csv (one row per round) and .txt (machine, load,
# bundles, summary tables), and .logs/ (the engine's output and journal events per round).

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

ROUNDS=${MEDIAUPD_BENCH_ROUNDS:-3}
OUT=${MEDIAUPD_BENCH_OUT:-$BENCH_DIR/results}
CACHE=${MEDIAUPD_BENCH_CACHE:-/var/tmp/mediaupd-bench}
REPORT=$BENCH_DIR/format-report.py
# the device's configuration for the benchmark: both formats, and the adiantum cipher
BENCH_CONF=/etc/mediaupd/format-bench.conf
GDIR=/run/mediaupd-bench
STAMP=$(date -u +%Y%m%d-%H%M)${MEDIAUPD_BENCH_NAME:+-$MEDIAUPD_BENCH_NAME}
COMMIT=$(git -C "$SRC_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
CSV=$OUT/format-bench-$STAMP.csv
TXT=$OUT/format-bench-$STAMP.txt
LOGS=$OUT/format-bench-$STAMP.logs
# the engine's events whose times make the phases (bench-report.py names them)
EVENT_IDS=(0225d7dc771eb4c05bc9c16dd600d6d1 1df9a685b26b0fdf3c5e51fa16ca7ac5
	aa0b65aa8ffe85f686f013cb4ffa7ac8 7abdbd5b2608995c8fa3ed490f1625fa
	a4e6b84b811cddf92a52a9a044444c78)

[ -x "$MEDIAUPD_BUILD_ROOT/daemon/mediaupdctl/mediaupdctl" ] ||
	fail "no mediaupdctl in $MEDIAUPD_BUILD_ROOT: set MEDIAUPD_BUILD_ROOT to a compiled build"

# has_adiantum: `mediaupd-bundle create` of this build makes adiantum bundles
has_adiantum() {
	"$BUNDLE_TOOL" create --help | grep -- '--cipher' | grep -q adiantum &&
		! "$BUNDLE_TOOL" create --help | grep -- '--cipher' | grep -q 'not available'
}
if [ -n "${MEDIAUPD_BENCH_VARIANTS:-}" ]; then
	read -r -a VARIANTS <<<"$MEDIAUPD_BENCH_VARIANTS"
elif has_adiantum; then
	VARIANTS=(v1 v2 adiantum manual-v1 manual-v2)
else
	VARIANTS=(v1 v2 manual-v1 manual-v2)
fi
mkdir -p "$OUT" "$CACHE" "$LOGS"

# --- bundles and sticks, made before the guest is up ---------------------------------------
eval "$("$VM" info)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# v2_bundle v2|adiantum: the cached format 2 full bundle of version 2 (one key, main-2026),
# made by `mediaupd-bundle create` from a scratch copy of the image's repo if missing;
# checked to verify with the example signing key
v2_bundle() {
	local file cipher=()
	[ "$1" = adiantum ] && cipher=(--cipher adiantum)
	file=$CACHE/full-$1-${VM_COMMIT_1:0:12}-${VM_COMMIT_2:0:12}.enc
	if [ ! -s "$file" ]; then
		if [ ! -d "$T_WORK/repo" ]; then
			ostree --repo="$T_WORK/repo" init --mode=archive
			ostree --repo="$T_WORK/repo" pull-local "$VM_REPO" "$VM_REF" "$VM_COMMIT_2" >/dev/null
		fi
		"$BUNDLE_TOOL" create --repo "$T_WORK/repo" --ref "$VM_REF" --empty --to "$VM_COMMIT_2" \
			--signing-key "$KEYS/example-signing.secret" --key main-2026="$KEYS/main-2026.key" \
			"${cipher[@]}" --output "$file.tmp" --force >"$T_WORK/create.log" 2>&1 || {
			cat "$T_WORK/create.log"
			fail "mediaupd-bundle create failed for the $1 bundle"
		}
		mv "$file.tmp" "$file"
	fi
	"$BUNDLE_TOOL" inspect --trusted "$KEYS/example-signing.pub" "$file" >"$T_WORK/inspect.txt" ||
		fail "$file does not verify (remove it from $CACHE to have it made again)"
	echo "$file"
}
# bundle_of VARIANT: the bundle file a variant installs
bundle_of() {
	case $1 in
	v1 | manual-v1) bench_v1_bundle full ;;
	v2 | manual-v2) v2_bundle v2 ;;
	adiantum) v2_bundle adiantum ;;
	*) fail "unknown variant '$1' in MEDIAUPD_BENCH_VARIANTS (v1 v2 adiantum manual-v1 manual-v2)" ;;
	esac
}
declare -A BUNDLE STICK
for v in "${VARIANTS[@]}"; do
	BUNDLE[$v]=$(bundle_of "$v")
	# one stick per bundle: the manual rounds use the stick of their bundle
	STICK[$v]=$T_WORK/stick-$(basename "${BUNDLE[$v]}" .enc).img
	[ -s "${STICK[$v]}" ] || daemon_stick "${STICK[$v]}" "${BUNDLE[$v]}"
	say "variant $v: ${BUNDLE[$v]} ($(stat -c %s "${BUNDLE[$v]}") bytes)"
done

# --- the guest ------------------------------------------------------------------------------
vm_up
guest_setup
g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' '[Bundle]' 'Formats=1;2' \
	'[Unlock]' 'Ciphers=xchacha12,aes-adiantum-plain64' >$BENCH_CONF"
g mkdir -p "$GDIR"

# stick_sectors: the sectors read from the stick so far (the third field of its stat)
# shellcheck disable=SC2016 # (an awk program)
stick_sectors() { g awk '{ print $3 }' /sys/block/sda/stat; }

# round VARIANT N: plug the variant's stick, mount it read-only with udisks2 as the daemon
# does, install its bundle (the engine, or the hand-run pipeline), record the row, take the
# system back to the start
round() {
	local v=$1 n=$2 mnt mark s0 s1 times t_start t_end rc cmd
	"$VM" plug usb "${STICK[$v]}" "stick-$n"
	g timeout 60 sh -c "until udisksctl info -b /dev/sda1 2>/dev/null | grep -q 'IdType: *vfat\$'; do
		sleep 0.1; done" || fail "udisks2 did not report the stick's filesystem within 60 s"
	mnt=$(g udisksctl mount --no-user-interaction -b /dev/sda1 -o ro,nosuid,nodev,noexec |
		sed -n 's/^Mounted .* at \(.*\)$/\1/p' | sed 's/\.$//')
	[ -n "$mnt" ] || fail "udisksctl did not mount the stick"
	case $v in
	manual-*)
		cmd=("$GUEST_SRC/bench/guest/manual-install.sh" "$mnt/static-update.bundle.enc"
			/etc/mediaupd/keys/main-2026.key /etc/ostree/trusted.ed25519.d/example.pub
			"$VM_OS" "$VM_REF" "$VM_COMMIT_2")
		;;
	*) cmd=(mediaupdctl apply --local "$mnt/static-update.bundle.enc" --json --config "$BENCH_CONF") ;;
	esac
	mark=$(guest_now)
	s0=$(stick_sectors)
	# shellcheck disable=SC2016 # (expanded in the guest)
	times=$("$VM" exec --timeout 2000 -- sh -c 'd=$1; shift; read -r a _ </proc/uptime
		"$@" >"$d/out" 2>"$d/err"; rc=$?; read -r b _ </proc/uptime; echo "$a $b $rc"' \
		sh "$GDIR" "${cmd[@]}")
	s1=$(stick_sectors)
	read -r t_start t_end rc <<<"$times"
	g cat "$GDIR/out" "$GDIR/err" >"$LOGS/round-$n-$v.out"
	[ "$rc" = 0 ] || {
		cat "$LOGS/round-$n-$v.out"
		fail "round $n ($v) exited $rc"
	}
	check_eq "deployment 0 after round $n ($v)" "$(default_commit)" "$VM_COMMIT_2"
	g journalctl -b -o json --no-pager --output-fields=MESSAGE_ID,_COMM \
		"${EVENT_IDS[@]/#/MESSAGE_ID=}" >"$T_WORK/journal.json"
	cp "$T_WORK/journal.json" "$LOGS/round-$n-$v.journal.json"
	"$REPORT" round "$v" "$n" "$(host_load)" "$(stat -c %s "${BUNDLE[$v]}")" "$mark" \
		"$t_start" "$t_end" "$s0" "$s1" "$T_WORK/journal.json" >>"$CSV"
	say "round $n $v: $(tail -n 1 "$CSV")"
	g udisksctl unmount --no-user-interaction -b /dev/sda1 >/dev/null
	"$VM" unplug "stick-$n"
	wait_gone
	# the manual pipeline leaves what it applied as the engine does: the same restore
	restore
}

snapshot >"$T_WORK/state.start"
"$REPORT" header >"$CSV"
# The first plug after the boot loads the USB storage modules: a stick plugged and pulled
# before the first round, measured nowhere.
"$VM" plug usb "${STICK[${VARIANTS[0]}]}" warmup
g timeout 60 sh -c 'until [ -e /dev/sda1 ]; do sleep 0.2; done' || fail "the warm-up stick did not come"
"$VM" unplug warmup
wait_gone

n=0
for _ in $(seq 1 "$ROUNDS"); do
	for v in "${VARIANTS[@]}"; do
		n=$((n + 1))
		round "$v" "$n"
	done
done

# --- the records and the summary ------------------------------------------------------------
g journalctl -b -o short-monotonic --no-pager SYSLOG_IDENTIFIER=mediaupd >"$LOGS/journal.txt"
{
	echo "# mediaupd bundle format benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host load average at the start: $LOAD0"
	bench_machine
	for v in "${VARIANTS[@]}"; do
		echo "variant $v: $(basename "${BUNDLE[$v]}"), $(stat -c %s "${BUNDLE[$v]}") bytes"
	done
	echo "rounds: $ROUNDS of each variant, in the order ${VARIANTS[*]}"
	echo
	"$REPORT" summary "$CSV"
} >"$TXT"
cat "$TXT"
say "results: $CSV, $TXT, $LOGS"
