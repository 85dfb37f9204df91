#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One test of the fuzz suite: replays a target's seeds and regression inputs, then fuzzes
# for SECONDS in a scratch copy of the seeds (the tree is never written to). A crash, leak,
# sanitizer report or timeout fails the test and prints the input that caused it.
# Usage: run-short.sh TARGET SECONDS CORPUS_DIR REGRESSIONS_DIR [DICT]
set -euo pipefail

target=$1
seconds=$2
corpus=$3
regressions=$4
dict=${5:-}

# Sanitizer reports end the run (UBSan's would only be printed otherwise). GLib's slice
# allocator is off, so that LeakSanitizer sees every allocation GLib and json-glib make.
export G_SLICE=always-malloc
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/mediaupd-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/corpus" "$scratch/artifacts"

show_artifacts() {
	local f
	for f in "$scratch"/artifacts/*; do
		[[ -f $f ]] || continue
		echo "--- $(basename "$f") ($(stat -c %s "$f") bytes), base64:"
		base64 -w 76 "$f"
	done
}

inputs=()
for dir in "$corpus" "$regressions"; do
	[[ -d $dir ]] || continue
	while IFS= read -r -d '' f; do
		inputs+=("$f")
	done < <(find "$dir" -type f -print0 | sort -z)
done
if [[ ${#inputs[@]} -eq 0 ]]; then
	echo "no seeds in $corpus" >&2
	exit 1
fi

echo "# replaying ${#inputs[@]} seeds and regression inputs"
if ! "$target" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$scratch/artifacts/" \
	"${inputs[@]}"; then
	show_artifacts
	exit 1
fi

for f in "${inputs[@]}"; do
	cp "$f" "$scratch/corpus/$(sha1sum <"$f" | cut -c1-40)"
done
args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
	-artifact_prefix="$scratch/artifacts/")
[[ -z $dict ]] || args+=(-dict="$dict")
# A leak fails the test when the input leaks again in a process of its own, and is only
# shown when it does not (an allocation cached by a library on first use).
reproducible() {
	local f=$1 again=$scratch/again
	[[ $(basename "$f") == leak-* ]] || return 0
	rm -rf "$again"
	mkdir "$again"
	cp "$f" "$again/"
	! "$target" -runs=0 "$again" >"$scratch/again.log" 2>&1 || ! "$target" "$f" >>"$scratch/again.log" 2>&1
}

echo "# fuzzing for $seconds s"
if ! "$target" "${args[@]}" "$scratch/corpus"; then
	show_artifacts
	for f in "$scratch"/artifacts/*; do
		if [[ ! -f $f ]] || reproducible "$f"; then
			exit 1
		fi
		echo "# $(basename "$f"): the input does not leak when run again; not counted"
	done
fi
