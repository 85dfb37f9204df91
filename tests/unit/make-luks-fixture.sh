#!/bin/bash
# Builds a small LUKS2 container file for the unit tests, unprivileged and
# without device-mapper, the way bundles are built: random payload,
# reencrypt --encrypt, one keyslot per key, label/subsystem, key-id tokens.
#
#   make-luks-fixture.sh OUTPUT --key ID=FILE [--key ID=FILE ...]
#       [--no-tokens] [--no-label] [--label L] [--subsystem S]
#       [--payload-kib N] [--init-only] [--luks1] [--raw-token N=JSON ...]
#       [--unbound ID=FILE]
#
# --init-only leaves an unfinished reencryption; --luks1 makes a LUKS1 file;
# --raw-token imports JSON as token N (after the key-id tokens, if any);
# --unbound adds a keyslot bound to no data segment after the others (with a
# key-id token naming it unless --no-tokens).
#
# The first key makes keyslot 0, the next ones slots 1, 2, ... PBKDF is
# pbkdf2 with 1000 iterations, so every trial is quick.
set -euo pipefail

die() {
	echo "make-luks-fixture.sh: $*" >&2
	exit 1
}

[[ $# -ge 1 ]] || die "usage: make-luks-fixture.sh OUTPUT --key ID=FILE ..."
output=$1
shift

ids=()
files=()
raw_tokens=()
unbound_id=
unbound_file=
tokens=1
label=mediaupd-bundle
subsystem=mediaupd-v1
set_label=1
payload_kib=1024
init_only=0
luks1=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--key)
		[[ $# -ge 2 && $2 == *=* ]] || die "--key needs ID=FILE"
		ids+=("${2%%=*}")
		files+=("${2#*=}")
		shift 2
		;;
	--no-tokens) tokens=0; shift ;;
	--no-label) set_label=0; shift ;;
	--label) label=$2; shift 2 ;;
	--subsystem) subsystem=$2; shift 2 ;;
	--payload-kib) payload_kib=$2; shift 2 ;;
	--init-only) init_only=1; shift ;;
	--luks1) luks1=1; shift ;;
	--unbound)
		[[ $# -ge 2 && $2 == *=* ]] || die "--unbound needs ID=FILE"
		unbound_id=${2%%=*}
		unbound_file=${2#*=}
		shift 2
		;;
	--raw-token)
		[[ $# -ge 2 && $2 == *=* ]] || die "--raw-token needs N=JSON"
		raw_tokens+=("$2")
		shift 2
		;;
	*) die "unknown option '$1'" ;;
	esac
done
[[ ${#files[@]} -ge 1 ]] || die "give at least one --key ID=FILE"

pbkdf=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)
common=(--batch-mode --disable-locks)
tmp="$output.tmp"
rm -f "$tmp"
head -c "$((payload_kib * 1024))" /dev/urandom >"$tmp"

if [[ $luks1 == 1 ]]; then
	cryptsetup luksFormat --type luks1 "${pbkdf[@]}" --key-file "${files[0]}" "${common[@]}" \
		"$tmp" >/dev/null
	mv "$tmp" "$output"
	exit 0
fi

# Room for the header: 16 KiB metadata (x2) plus one 258048-byte area per
# keyslot, one for the reencryption that encrypts it in place, and one more
# for the new key of a reencryption left unfinished.
truncate -s +4M "$tmp"
slots=$((${#files[@]} + 1 + init_only))
[[ -n $unbound_file ]] && slots=$((slots + 1))
cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 4M \
	--luks2-metadata-size 16k --luks2-keyslots-size "$((slots * 258048))" --sector-size 4096 \
	"${pbkdf[@]}" --key-file "${files[0]}" "${common[@]}" "$tmp"

for ((i = 1; i < ${#files[@]}; i++)); do
	cryptsetup luksAddKey "$tmp" "${files[i]}" --key-file "${files[0]}" --new-key-slot "$i" \
		"${pbkdf[@]}" "${common[@]}"
done

if [[ -n $unbound_file ]]; then
	cryptsetup luksAddKey --unbound --key-size 512 --new-key-slot "${#files[@]}" \
		"${pbkdf[@]}" "${common[@]}" "$tmp" "$unbound_file"
	ids+=("$unbound_id")
fi

if [[ $set_label == 1 ]]; then
	cryptsetup config "$tmp" --label "$label" --subsystem "$subsystem" --disable-locks
fi

if [[ $tokens == 1 ]]; then
	for ((i = 0; i < ${#ids[@]}; i++)); do
		printf '{"type":"mediaupd-keyid","keyslots":["%d"],"key_id":"%s"}' "$i" "${ids[i]}" \
			>"$tmp.token"
		cryptsetup token import --json-file "$tmp.token" --token-id "$i" "$tmp" \
			--disable-locks
	done
	rm -f "$tmp.token"
fi
for token in "${raw_tokens[@]}"; do
	printf '%s' "${token#*=}" >"$tmp.token"
	cryptsetup token import --json-file "$tmp.token" --token-id "${token%%=*}" "$tmp" \
		--disable-locks
	rm -f "$tmp.token"
done

# Leave a reencryption (a key change) started but not done: the header then
# carries the online-reencrypt requirement and a second data segment.
if [[ $init_only == 1 ]]; then
	cryptsetup reencrypt --init-only "${pbkdf[@]}" --key-file "${files[0]}" --key-slot 0 \
		"${common[@]}" "$tmp"
fi
mv "$tmp" "$output"
