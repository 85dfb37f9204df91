# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers of the benchmarks (bench/daemon-bench.sh, bench/format-bench.sh), sourced after
# tests/vm/tests/lib.sh and engine-lib.sh: the cached bundles, the system state every round
# starts from, the guest's clock, the host's load, the machine in the results' header.
#
# The caller sets CACHE (where the bundles are kept between runs) and, for bench_machine,
# COMMIT (the source's commit at the start of the run).

# bench_v1_maker: the maker of format 1 bundles: the legacy fixture of the tests where there
# is one, else scripts/make-encrypted-bundle.sh (which made format 1 before it wrapped
# `mediaupd-bundle create`)
bench_v1_maker() {
	if [ -x "$SRC_ROOT/tests/unit/make-v1-bundle.sh" ]; then
		echo "$SRC_ROOT/tests/unit/make-v1-bundle.sh"
	else
		echo "$SRC_ROOT/scripts/make-encrypted-bundle.sh"
	fi
}

# bench_v1_bundle full|small: the cached format 1 bundle (--empty or from version 1, to
# version 2; one key, main-2026), made by bench_v1_maker if missing; checked to be format 1
bench_v1_bundle() {
	local file from maker
	case $1 in
	full) from=(--empty) ;;
	small) from=(--from "$VM_COMMIT_1") ;;
	*) fail "unknown bundle '$1' (full, small)" ;;
	esac
	file=$CACHE/$1-${VM_COMMIT_1:0:12}-${VM_COMMIT_2:0:12}.enc
	if [ ! -s "$file" ]; then
		maker=$(bench_v1_maker)
		MEDIAUPD_BUNDLE=$BUNDLE_TOOL "$maker" \
			--repo "$VM_REPO" --ref "$VM_REF" "${from[@]}" --to "$VM_COMMIT_2" \
			--signing-key "$KEYS/example-signing.secret" --key main-2026="$KEYS/main-2026.key" \
			--output "$file.tmp" --force >"$T_WORK/make-bundle.log" 2>&1 || {
			cat "$T_WORK/make-bundle.log"
			fail "${maker##*/} failed for the $1 bundle"
		}
		mv "$file.tmp" "$file"
	fi
	cryptsetup luksDump --disable-locks "$file" | grep -qx 'Subsystem:[[:space:]]*mediaupd-v1' ||
		fail "$file is not a format 1 bundle (remove it from $CACHE to have it made again)"
	echo "$file"
}

# snapshot: what every round must start from: deployments, refs, boot configuration, the
# repo's objects, no mount, mapping or loop device
snapshot() {
	state
	# shellcheck disable=SC2016 # (expanded in the guest)
	g sh -c 'ostree refs | sort; echo objects: $(find /ostree/repo/objects -type f | wc -l)'
}
# guest_now: the guest's monotonic clock (uptime), seconds
guest_now() { g cut -d' ' -f1 /proc/uptime; }
host_load() { cut -d' ' -f1 /proc/loadavg; }
# wait_gone: until the stick's partition is gone from the guest
wait_gone() {
	g timeout 30 sh -c 'while [ -e /dev/sda1 ] || [ -e /dev/sda ]; do sleep 0.1; done' ||
		fail "the stick did not go from the guest"
}
# restore: back to the state of the snapshot taken at the start in $T_WORK/state.start
# (checked)
restore() {
	if [ "$(default_commit)" != "$VM_COMMIT_1" ]; then
		g ostree admin undeploy 0 >/dev/null
	fi
	g ostree reset "$VM_REF" "$VM_COMMIT_1"
	g ostree prune --refs-only >/dev/null
	snapshot >"$T_WORK/state.now"
	diff "$T_WORK/state.start" "$T_WORK/state.now" ||
		fail "the system is not back to the state of the start after the round"
}

# bench_machine: the lines of a result's header that say what ran where
bench_machine() {
	echo "host: $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
	echo "qemu: $(qemu-system-x86_64 --version | head -n 1), TCG (see tests/vm/README.md)"
	echo "guest: $(g uname -sr), $(g nproc) vCPUs, ${MEDIAUPD_VM_MEMORY:-1024M} RAM"
	echo "host load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "build: $MEDIAUPD_BUILD_ROOT ($(meson introspect --buildoptions "$MEDIAUPD_BUILD_ROOT" |
		python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))'))"
	echo "source: $COMMIT (at the start of the run)"
}
