#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest side of bench/unlock-bench.sh: formats a LUKS2 header with one keyslot of the given
# PBKDF (aes-xts-plain64, 512-bit key, sha256: the keyslot `mediaupd-bundle create` writes,
# cost fixed, no benchmark), then opens that keyslot ROUNDS times with
# `cryptsetup open --test-passphrase` (the key check alone, no mapping). Prints one CSV row per
# timed command: name,pbkdf,cost,memory_kib,operation,round,seconds.
# Usage: unlock-time.sh DIR ROUNDS NAME pbkdf2 ITERATIONS
#        unlock-time.sh DIR ROUNDS NAME argon2id TIME_COST MEMORY_KIB
set -euo pipefail

dir=$1 rounds=$2 name=$3 pbkdf=$4 cost=$5 memory=${6:-0}
file=$dir/$name.luks
key=$dir/bench.key

case $pbkdf in
pbkdf2) cost_args=(--pbkdf pbkdf2 --hash sha256 --pbkdf-force-iterations "$cost") ;;
argon2id)
	cost_args=(--pbkdf argon2id --pbkdf-force-iterations "$cost" --pbkdf-memory "$memory"
		--pbkdf-parallel 1)
	;;
*)
	echo "unlock-time.sh: unknown PBKDF '$pbkdf' (pbkdf2, argon2id)" >&2
	exit 2
	;;
esac
[ -s "$key" ] || head -c 64 /dev/urandom >"$key"
rm -f "$file"
truncate -s 16M "$file"

# timed OPERATION ROUND CMD...: runs CMD, prints its row
timed() {
	local op=$1 round=$2 t0 t1
	shift 2
	t0=$(date +%s%N)
	"$@" >/dev/null
	t1=$(date +%s%N)
	printf '%s,%s,%s,%s,%s,%s,%s\n' "$name" "$pbkdf" "$cost" "$memory" "$op" "$round" \
		"$(awk -v d="$((t1 - t0))" 'BEGIN { printf "%.3f", d / 1e9 }')"
}

timed format 0 cryptsetup luksFormat --batch-mode --disable-locks --type luks2 \
	--cipher aes-xts-plain64 --key-size 512 "${cost_args[@]}" --key-file "$key" "$file"
for round in $(seq 1 "$rounds"); do
	timed open "$round" cryptsetup open --disable-locks --test-passphrase --key-slot 0 \
		--key-file "$key" "$file"
done
rm -f "$file"
