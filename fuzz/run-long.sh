#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs the fuzz targets long, one after the other, each growing a corpus of its own
# outside the tree (OUT/TARGET/corpus, seeded from fuzz/corpus/TARGET and
# fuzz/regressions/TARGET), and prints per target: executions, exec/s, coverage (cov: and
# ft: of libFuzzer's final line), corpus size and what it found (OUT/TARGET/artifacts/).
#
# Usage: run-long.sh [-b BUILD_DIR | -s SANITIZERS] [-n RUNS] [-t SECONDS] [-j JOBS]
#                    [-w WORKERS] [-o OUT] [TARGET...]
#   -b  a build configured with -Dfuzzing=true (default: OUT/build-SANITIZERS, set up with
#       clang when missing, and brought up to date)
#   -s  the sanitizers of that build (default address,undefined; undefined alone runs
#       about twice as fast, and replaying its corpus under ASan afterwards is quick)
#   -n  executions per target, -t seconds per target (whichever ends first when both are
#       given; default -n 10000000)
#   -j  libFuzzer -jobs (default 1), -w its -workers (default: as many as jobs)
#   -o  where corpora, crashes and logs go (default /var/tmp/mediaupd-fuzz)
#   TARGET  config, signed-token, ... (default: every target of fuzz/meson.build)
# Exit status: 0 when no target found anything, 1 otherwise, 2 on a usage error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=/var/tmp/mediaupd-fuzz
build=
sanitizers=address,undefined
runs=
seconds=
jobs=1
workers=

usage() {
	sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while getopts b:s:n:t:j:w:o:h opt; do
	case $opt in
	b) build=$OPTARG ;;
	s) sanitizers=$OPTARG ;;
	n) runs=$OPTARG ;;
	t) seconds=$OPTARG ;;
	j) jobs=$OPTARG ;;
	w) workers=$OPTARG ;;
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
workers=${workers:-$jobs}
[[ -n $runs || -n $seconds ]] || runs=10000000

if [[ $# -gt 0 ]]; then
	targets=("$@")
else
	mapfile -t targets < <(sed -n "s/^  '\([a-z0-9-]*\)' : .*_dep,$/\1/p" "$here/meson.build")
fi

mkdir -p "$out"
if [[ -z $build ]]; then
	build=$out/build-${sanitizers//,/-}
	if [[ ! -f $build/build.ninja ]]; then
		CC=clang meson setup "$build" "$root" -Dfuzzing=true -Db_sanitize="$sanitizers" \
			-Db_lundef=false -Dvm_tests=false
	fi
fi
# The fuzzers run in their own folders: a relative build folder is taken from here.
build=$(realpath "$build")
nice -n 19 ninja -C "$build" "${targets[@]/#/fuzz/fuzz-}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export G_SLICE=always-malloc

found=0
rows=()
for t in "${targets[@]}"; do
	exe=$build/fuzz/fuzz-$t
	dir=$out/$t
	mkdir -p "$dir/corpus" "$dir/artifacts"
	rm -f "$dir"/fuzz-*.log "$dir/log"
	args=(-print_final_stats=1 -rss_limit_mb=2048 -timeout=10
		-artifact_prefix="$dir/artifacts/")
	[[ -z $seconds ]] || args+=(-max_total_time="$seconds")
	[[ -z $runs ]] || args+=(-runs="$runs")
	[[ ! -f $here/dict/$t.dict ]] || args+=(-dict="$here/dict/$t.dict")
	[[ $jobs -le 1 ]] || args+=(-jobs="$jobs" -workers="$workers")
	seeds=("$here/corpus/$t")
	[[ ! -d $here/regressions/$t ]] || seeds+=("$here/regressions/$t")

	echo "== $t: ${args[*]}"
	start=$(date +%s)
	rc=0
	# New inputs go to the first directory only: the tree's seeds are read, not written.
	(cd "$dir" && nice -n 19 "$exe" "${args[@]}" "$dir/corpus" "${seeds[@]}") \
		>"$dir/log" 2>&1 || rc=$?
	elapsed=$(($(date +%s) - start))
	logs=("$dir/log")
	[[ $jobs -le 1 ]] || logs=("$dir"/fuzz-*.log)

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${logs[@]}" |
		awk '{ s += $1 } END { print s + 0 }')
	last=$(grep -h -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "${logs[@]}" |
		tail -n 1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	n_corpus=$(find "$dir/corpus" -type f | wc -l)
	n_found=$(find "$dir/artifacts" -type f | wc -l)
	[[ $rc -eq 0 && $n_found -eq 0 ]] || found=1
	rows+=("$(printf '%-14s %12s %8s %6s %6s %7s %5s %s' "$t" "$execs" \
		"$((execs / (elapsed > 0 ? elapsed : 1)))" "${cov:-?}" "${ft:-?}" "$n_corpus" \
		"$n_found" "$([[ $rc -eq 0 ]] && echo ok || echo "exit $rc, see $dir/log")")")
	echo "${rows[-1]}"
done

echo
printf '%-14s %12s %8s %6s %6s %7s %5s %s\n' target execs exec/s cov ft corpus found status
printf '%s\n' "${rows[@]}"
exit "$found"
