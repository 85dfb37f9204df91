#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark of the keyslot PBKDF and the data cipher, in ONE session of the QEMU guest
# (tests/vm): what an integrator picks `mediaupd-bundle create --pbkdf*` and `--cipher` by
# (docs/integrator.md). For each PBKDF choice, guest/unlock-time.sh formats a LUKS2 header
# with one keyslot as `create` writes it (aes-xts-plain64 keyslot, sha256, the cost given, no
# benchmark) and opens that keyslot ROUNDS times with `cryptsetup open --test-passphrase`:
# the cost of one key trial on the device (a bundle with N keys the device lacks costs N of
# them before the right one). Then `cryptsetup benchmark` of the data ciphers (aes-xts-plain64
# with 256- and 512-bit keys, xchacha12 and xchacha20 Adiantum).
# Variants (MEDIAUPD_BENCH_VARIANTS, words NAME:pbkdf2:ITERATIONS or
# NAME:argon2id:TIME_COST:MEMORY_KIB); the default holds create's defaults (pbkdf2 1000
# iterations; argon2id time cost 4, 65536 KiB), the daemon's limits ([Unlock]
# MaxPbkdf2Iterations=1000000, MaxArgon2MemoryKiB=262144) and steps between.
#
# Usage (as root, the build set up with meson):
#   MEDIAUPD_BUILD_ROOT=$PWD/build bench/unlock-bench.sh
# Environment: MEDIAUPD_BENCH_ROUNDS (3: opens of each keyslot), MEDIAUPD_BENCH_VARIANTS,
# MEDIAUPD_BENCH_NAME (a name for the run, in the file names), MEDIAUPD_BENCH_OUT
# (bench/results), and those of tests/vm (README.md there).
# Writes OUT/unlock-bench-STAMP[-NAME].csv (one row per timed command) and .txt (machine,
# load, the tables).

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
export MEDIAUPD_BUILD_ROOT=${MEDIAUPD_BUILD_ROOT:-$BENCH_DIR/../build}
# The guest session, its helpers and its cleanup are those of the vm suite.
# shellcheck source=SCRIPTDIR/../tests/vm/tests/lib.sh
. "$BENCH_DIR/../tests/vm/tests/lib.sh"
# shellcheck source=SCRIPTDIR/bench-lib.sh
. "$BENCH_DIR/bench-lib.sh"

ROUNDS=${MEDIAUPD_BENCH_ROUNDS:-3}
OUT=${MEDIAUPD_BENCH_OUT:-$BENCH_DIR/results}
GDIR=/run/mediaupd-bench
STAMP=$(date -u +%Y%m%d-%H%M)${MEDIAUPD_BENCH_NAME:+-$MEDIAUPD_BENCH_NAME}
COMMIT=$(git -C "$SRC_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
CSV=$OUT/unlock-bench-$STAMP.csv
TXT=$OUT/unlock-bench-$STAMP.txt
if [ -n "${MEDIAUPD_BENCH_VARIANTS:-}" ]; then
	read -r -a VARIANTS <<<"$MEDIAUPD_BENCH_VARIANTS"
else
	VARIANTS=(pbkdf2-1k:pbkdf2:1000 pbkdf2-100k:pbkdf2:100000 pbkdf2-1m:pbkdf2:1000000
		argon2id-t4-32m:argon2id:4:32768 argon2id-t4-64m:argon2id:4:65536
		argon2id-t8-64m:argon2id:8:65536 argon2id-t4-256m:argon2id:4:262144)
fi
CIPHERS=("aes-xts-plain64 256" "aes-xts-plain64 512" "xchacha12,aes-adiantum-plain64 256"
	"xchacha20,aes-adiantum-plain64 256")
for v in "${VARIANTS[@]}"; do
	[[ $v =~ ^[a-z0-9-]+:(pbkdf2:[0-9]+|argon2id:[0-9]+:[0-9]+)$ ]] ||
		fail "bad variant '$v' in MEDIAUPD_BENCH_VARIANTS (NAME:pbkdf2:ITERATIONS or NAME:argon2id:TIME:KIB)"
done
mkdir -p "$OUT"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

vm_up
g mkdir -p "$GDIR"
echo "name,pbkdf,cost,memory_kib,operation,round,seconds" >"$CSV"
for v in "${VARIANTS[@]}"; do
	IFS=: read -r name pbkdf cost memory <<<"$v"
	"$VM" exec --timeout 1800 -- "$GUEST_SRC/bench/guest/unlock-time.sh" "$GDIR" "$ROUNDS" \
		"$name" "$pbkdf" "$cost" ${memory:+"$memory"} >"$T_WORK/rows.csv" ||
		fail "unlock-time.sh failed for $v"
	cat "$T_WORK/rows.csv" >>"$CSV"
	say "$v: $(awk -F, '$5 == "open" { printf "%s s ", $7 }' "$T_WORK/rows.csv")"
done
: >"$T_WORK/ciphers.txt"
for c in "${CIPHERS[@]}"; do
	read -r cipher bits <<<"$c"
	# a cipher the guest's kernel lacks is a line of the table, not a failure
	g cryptsetup benchmark --cipher "$cipher" --key-size "$bits" >>"$T_WORK/ciphers.txt" 2>&1 ||
		echo "$cipher $bits: cryptsetup benchmark failed (exit $?)" >>"$T_WORK/ciphers.txt"
done

# median OPERATION NAME: the median seconds of the rows of NAME and OPERATION
median() {
	awk -F, -v op="$1" -v n="$2" '$1 == n && $5 == op { print $7 }' "$CSV" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
{
	echo "# mediaupd keyslot PBKDF and cipher benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host load average at the start: $LOAD0"
	bench_machine
	echo "guest cryptsetup: $(g cryptsetup --version)"
	echo "guest CPU: $(g sh -c "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-"), AES instructions: $(g sh -c 'grep -qw aes /proc/cpuinfo && echo yes || echo no')"
	echo "rounds: $ROUNDS opens of each keyslot"
	echo
	base=$(median open "${VARIANTS[0]%%:*}")
	echo "| keyslot | PBKDF | cost | memory | format (s) | open, median (s) | open / ${VARIANTS[0]%%:*} |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	for v in "${VARIANTS[@]}"; do
		IFS=: read -r name pbkdf cost memory <<<"$v"
		open=$(median open "$name")
		if [ "$pbkdf" = pbkdf2 ]; then
			cost_text="$cost iterations" mem_text=-
		else
			cost_text="time cost $cost" mem_text="$((memory / 1024)) MiB"
		fi
		echo "| $name | $pbkdf | $cost_text | $mem_text | $(median format "$name") | $open |" \
			"$(awk -v a="$open" -v b="$base" 'BEGIN { printf (b > 0) ? "%.1f" : "-", a / b }') |"
	done
	echo
	echo "cryptsetup benchmark (the kernel's ciphers through AF_ALG, no disk):"
	echo
	cat "$T_WORK/ciphers.txt"
} >"$TXT"
cat "$TXT"
say "results: $CSV, $TXT"
