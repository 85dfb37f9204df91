#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Checks that every C file under daemon/, tests/ and fuzz/ is formatted as .clang-format says.
# Usage: check-format.sh SOURCE_ROOT [FILE_TO_SKIP...]   (paths relative to SOURCE_ROOT)
# To format a file: clang-format -i FILE (from the source root, so .clang-format applies).
set -euo pipefail

root=$1
shift
if ! command -v clang-format >/dev/null; then
	echo "clang-format is not installed (Debian: apt-get install clang-format); skipping"
	exit 77
fi
cd "$root"

declare -A skip=()
for f in "$@"; do
	skip[$f]=1
done

files=()
while IFS= read -r -d '' f; do
	f=${f#./}
	[[ -n ${skip[$f]+set} ]] || files+=("$f")
done < <(find daemon tests fuzz -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

if [[ ${#files[@]} -eq 0 ]]; then
	echo "no C files found under $root/daemon and $root/tests" >&2
	exit 1
fi

bad=()
for f in "${files[@]}"; do
	if ! clang-format --dry-run -Werror "$f" 2>/dev/null; then
		bad+=("$f")
	fi
done
echo "$(clang-format --version): ${#files[@]} files checked, ${#bad[@]} not formatted"
if [[ ${#bad[@]} -gt 0 ]]; then
	for f in "${bad[@]}"; do
		echo "--- $f"
		clang-format "$f" | diff -u "$f" - | head -40 || true
	done
	echo "Format them from the source root with: clang-format -i ${bad[*]}" >&2
	exit 1
fi
