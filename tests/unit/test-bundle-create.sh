#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# 'mediaupd-bundle create', 'rekey' and v2 'inspect' end to end (TAP), run as an unprivileged
# user (nobody, via setpriv, when the test runs as root), and what they write read back with
# stock tools only: cryptsetup luksDump / token export / open --test-passphrase, veritysetup
# verify, the data decrypted with cryptsetup reencrypt, the inner image extracted with the
# filesystem's own tools and its delta applied with stock ostree.
#
# Also runs the recipe "Making a v2 bundle by hand" of docs/bundle-format.md as it stands
# (tests/unit/bundle-recipe.sh).
#
# Environment: MEDIAUPD_BUNDLE (the built mediaupd-bundle), MEDIAUPD_SOURCE_ROOT (for docs/;
# default: two levels above this file).
set -euo pipefail

TOOL=${MEDIAUPD_BUNDLE:?set MEDIAUPD_BUNDLE to the built mediaupd-bundle}
MEDIAUPD_SOURCE_ROOT=${MEDIAUPD_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
unset MEDIAUPD_SIGNING_KEY_FILE MEDIAUPD_KEYS_DIR
readonly REF=testos/x86_64/main

# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/tap-lib.sh"

# --- set-up ---------------------------------------------------------------------------------

setup() {
	W=$(mktemp -d /tmp/mu-test-bundle-create.XXXXXXXX)
	trap 'rm -rf -- "$W"' EXIT
	if [ "$(id -u)" = 0 ]; then
		chown "$NOBODY:$NOBODY" "$W"
	fi
	chmod 0700 "$W"
	as_user mkdir -p "$W/bin" "$W/tmp" "$W/out" "$W/keys" "$W/more"
	if ! as_user test -x "$TOOL"; then
		cp -- "$TOOL" "$W/bin/mediaupd-bundle"
		chmod 0755 "$W/bin/mediaupd-bundle"
		chown "$(stat -c %u:%g "$W")" "$W/bin/mediaupd-bundle"
		TOOL=$W/bin/mediaupd-bundle
	fi
	as_user ostree init --repo="$W/repo" --mode=archive
	as_user bash -c "set -e; mkdir -p '$W/tree/usr/lib' '$W/tree/usr/bin' '$W/tree/etc'
		printf 'ID=testos\nVARIANT_ID=board\nPRETTY_NAME=\"TestOS 1\"\n' >'$W/tree/usr/lib/os-release'
		head -c 300000 /dev/urandom >'$W/tree/usr/bin/tool'
		ln -s ../usr/lib/os-release '$W/tree/etc/os-release'"
	as_user ostree commit --repo="$W/repo" --branch="$REF" --tree=dir="$W/tree" \
		--subject=v1 --add-metadata-string=version=1.0 --timestamp=2026-01-01T00:00:00Z >/dev/null
	# v2: larger than 128 blocks of 4 KiB, so that the hash tree has two levels.
	as_user bash -c "set -e; head -c 1500000 /dev/urandom >'$W/tree/usr/bin/new-tool'
		seq 1 20000 >'$W/tree/usr/lib/list'"
	as_user ostree commit --repo="$W/repo" --branch="$REF" --tree=dir="$W/tree" \
		--subject=v2 --add-metadata-string=version=2.0 --timestamp=2026-02-01T00:00:00Z >/dev/null
	V1=$(ostree rev-parse --repo="$W/repo" "$REF^")
	V2=$(ostree rev-parse --repo="$W/repo" "$REF")
	local k
	for k in main-2026 fallback-1 rotation-2027; do
		as_user "$TOOL" keygen --luks "$W/keys/$k.key" >/dev/null
	done
	as_user "$TOOL" keygen --luks "$W/more/new.key" >/dev/null
	as_user "$TOOL" keygen --luks "$W/more/wrong.key" >/dev/null
	as_user head -c 8 /dev/urandom | as_user tee "$W/more/short.key" >/dev/null
	as_user "$TOOL" keygen --signing "$W/sign" >/dev/null
	as_user "$TOOL" keygen --signing "$W/sign2" >/dev/null
	as_user "$TOOL" keygen --signing "$W/other" >/dev/null
	as_user cp "$W/sign.pub" "$W/not-a-secret"
	B1=$W/out/one.bundle
	B3=$W/out/three.bundle
}

create() {
	as_user env TMPDIR="$W/tmp" "$TOOL" create --repo "$W/repo" --ref "$REF" "$@"
}

# json BUNDLE EXPR: a jq expression over 'inspect --json' (with --trusted sign.pub).
json() {
	as_user "$TOOL" inspect --trusted "$W/sign.pub" --json "$1" | jq -er "$2"
}

# Nothing but finished bundles in out/, and no work directory left in TMPDIR.
no_leftovers() {
	[ -z "$(find "$W/tmp" -mindepth 1 -print -quit)" ] || fail "left in TMPDIR: $(ls -A "$W/tmp")"
	[ -z "$(find "$W/out" -name '*.partial' -print -quit)" ] || fail "a .partial file is left"
}

# extract_data BUNDLE FILE: the data segment (ciphertext) alone, as the signed header places it.
extract_data() {
	local off size
	off=$(json "$1" .header.data_offset)
	size=$(json "$1" .header.data_size)
	dd if="$1" of="$2" bs=4096 skip=$((off / 4096)) count=$((size / 4096)) status=none
	[ "$(stat -c %s "$2")" = "$size" ] || fail "short data segment"
}

verity_verify() {
	local bundle=$1 data=$2 size
	size=$(json "$bundle" .header.data_size)
	veritysetup verify --no-superblock --hash=sha256 --data-block-size=4096 \
		--hash-block-size=4096 --data-blocks=$((size / 4096)) \
		--hash-offset="$(json "$bundle" .header.hash_offset)" \
		--salt="$(json "$bundle" .header.verity_salt)" \
		"$data" "$bundle" "$(json "$bundle" .header.root_hash)"
}

# stock_decrypt BUNDLE KEY FILE: the data segment decrypted with stock cryptsetup only, in
# userspace (dump the volume key, format a detached header with it over the extracted
# segment, decrypt that in place).
stock_decrypt() {
	local bundle=$1 key=$2 out=$3 rb
	rb=$(mktemp -d "$W/rb.XXXXXX")
	cryptsetup luksDump --dump-volume-key --volume-key-file "$rb/vk" --key-file "$key" \
		--batch-mode --disable-locks "$bundle" >/dev/null
	extract_data "$bundle" "$out"
	cryptsetup luksFormat --type luks2 --header "$rb/header" --volume-key-file "$rb/vk" \
		--cipher aes-xts-plain64 --key-size 512 --sector-size 4096 --pbkdf pbkdf2 \
		--pbkdf-force-iterations 1000 --key-file "$key" --batch-mode --disable-locks "$out"
	cryptsetup reencrypt --decrypt --header "$rb/header" --key-file "$key" \
		--force-offline-reencrypt --batch-mode --disable-locks "$out" >/dev/null
	rm -rf -- "$rb"
}

# apply_delta DIR FROM TO: stock ostree applies the delta into a repository holding FROM.
apply_delta() {
	local delta=$1 from=$2 to=$3 repo
	repo=$(mktemp -d "$W/apply.XXXXXX")
	ostree init --repo="$repo" --mode=bare-user
	[ -z "$from" ] || ostree pull-local --repo="$repo" "$W/repo" "$from" >/dev/null
	ostree static-delta apply-offline --repo="$repo" "$delta"
	ostree fsck --repo="$repo" >/dev/null
	ostree ls --repo="$repo" -R "$to" >/dev/null
	rm -rf -- "$repo"
}

# test_passphrase BUNDLE KEY [SLOT]: stock cryptsetup opens a keyslot with KEY (no dm).
test_passphrase() {
	cryptsetup open --test-passphrase --disable-locks --key-file "$2" ${3:+--key-slot "$3"} "$1"
}

# --- create -> inspect -> stock tools -------------------------------------------------------

t_create_erofs_delta() {
	create --from "$REF^" --signing-key "$W/sign.secret" --key "main-2026=$W/keys/main-2026.key" \
		--output "$B1" >"$W/create1.out" 2>"$W/create1.err"
	[ -f "$B1" ] || fail "no bundle"
	[ "$(stat -c %a "$B1")" = 644 ] || fail "mode $(stat -c %a "$B1")"
	grep -q 'generating the delta' "$W/create1.err" || fail "no progress lines"
	grep -qE '^mediaupd-bundle create: \[ *[0-9]+\.[0-9]{2} s\] self-check$' "$W/create1.err" ||
		fail "no timed self-check line"
	grep -q '^Self-check:' "$W/create1.out" || fail "no summary"
	no_leftovers
}

t_inspect_json() {
	[ "$(json "$B1" .format_version)" = 2 ]
	[ "$(json "$B1" .subsystem)" = mediaupd-v2 ]
	[ "$(json "$B1" .header.os_id)" = testos ]
	[ "$(json "$B1" .header.os_variant_id)" = board ]
	[ "$(json "$B1" .header.ref)" = "$REF" ]
	[ "$(json "$B1" '.header.ref_bindings | join(",")')" = "$REF" ]
	[ "$(json "$B1" .header.from_commit)" = "$V1" ]
	[ "$(json "$B1" .header.to_commit)" = "$V2" ]
	[ "$(json "$B1" .header.version)" = 2.0 ]
	[ "$(json "$B1" .header.timestamp)" = "$(date -d 2026-02-01T00:00:00Z +%s)" ]
	[ "$(json "$B1" .header.cipher)" = aes-xts-plain64 ]
	[ "$(json "$B1" .header.key_size_bits)" = 512 ]
	[ "$(json "$B1" '.header.hash_offset == .header.data_offset + .header.data_size')" = true ]
	[ "$(json "$B1" '.header.total_compressed > 1000000')" = true ]
	[ "$(json "$B1" '.header.root_hash | test("^[0-9a-f]{64}$")')" = true ]
	[ "$(json "$B1" .matches_luks)" = true ]
	[ "$(json "$B1" .verification.verified)" = true ]
	[ "$(json "$B1" .verification.key)" = "$(cat "$W/sign.pub")" ]
	[ "$(json "$B1" '.keyslots | length')" = 1 ]
	[ "$(json "$B1" '.keyslots[0].key_id')" = main-2026 ]
	[ "$(json "$B1" '.keyslots[0].pbkdf.type')" = pbkdf2 ]
	[ "$(json "$B1" '.keyslots[0].pbkdf.iterations')" = 1000 ]
	# The data offset: two 64 KiB metadata areas and 8 keyslots of room.
	[ "$(json "$B1" .header.data_offset)" = $((2 * 65536 + 8 * 258048)) ]
	grep -q "^Verity: .*root $(json "$B1" .header.root_hash)\$" "$W/create1.out"
}

t_inspect_untrusted() {
	local rc=0
	as_user "$TOOL" inspect --trusted "$W/other.pub" "$B1" >"$W/i.out" 2>"$W/i.err" || rc=$?
	[ "$rc" = 1 ] || fail "exit $rc"
	grep -qF '[SignatureInvalid]' "$W/i.err"
	grep -q '^Verified:    NO' "$W/i.out"
	# Without --trusted, the header is shown and nothing is claimed.
	as_user "$TOOL" inspect "$B1" >"$W/i.out"
	grep -q "^To:          $V2\$" "$W/i.out"
	grep -q '^Verified:    not checked' "$W/i.out"
}

# inspect refuses a file whose LUKS2 header or length no longer match what was signed.
t_inspect_tampered() {
	local t=$W/out/tampered-inspect.bundle rc
	as_user cp "$B1" "$t"
	python3 "$MEDIAUPD_SOURCE_ROOT/tests/unit/luks2-edit.py" "$t" --set 'segments.0.size="4096"'
	rc=0
	as_user "$TOOL" inspect --trusted "$W/sign.pub" "$t" >"$W/it.out" 2>"$W/it.err" || rc=$?
	if [ "$rc" != 1 ] || ! grep -qF '[CorruptBundle]' "$W/it.err"; then
		fail "segment: $rc $(cat "$W/it.err")"
	fi
	[ ! -s "$W/it.out" ] || fail "inspect showed a header that does not match the file"
	as_user cp "$B1" "$t"
	as_user truncate -s -4096 "$t"
	rc=0
	as_user "$TOOL" inspect "$t" >/dev/null 2>"$W/it.err" || rc=$?
	if [ "$rc" != 1 ] || ! grep -qF '[CorruptBundle]' "$W/it.err"; then
		fail "truncated: $rc $(cat "$W/it.err")"
	fi
}

t_luksdump() {
	local dump size
	dump=$(cryptsetup luksDump --disable-locks "$B1")
	size=$(json "$B1" .header.data_size)
	grep -qx 'Label:[[:space:]]*mediaupd-bundle' <<<"$dump"
	grep -qx 'Subsystem:[[:space:]]*mediaupd-v2' <<<"$dump"
	grep -qx "[[:space:]]*length: $size \[bytes\]" <<<"$dump" || fail "segment not fixed at $size"
	grep -qx "Metadata area:[[:space:]]*65536 \[bytes\]" <<<"$dump"
	grep -qx "Keyslots area:[[:space:]]*$((8 * 258048)) \[bytes\]" <<<"$dump"
	[ "$(grep -cE '^  [0-9]+: luks2$' <<<"$dump")" = 1 ]
	grep -qx "[[:space:]]*sector: 4096 \[bytes\]" <<<"$dump"
}

t_token_export() {
	local t0 t1
	t0=$(cryptsetup token export --token-id 0 --disable-locks "$B1")
	[ "$(jq -r .type <<<"$t0")" = mediaupd-keyid ]
	[ "$(jq -r .key_id <<<"$t0")" = main-2026 ]
	[ "$(jq -c .keyslots <<<"$t0")" = '["0"]' ]
	t1=$(cryptsetup token export --token-id 1 --disable-locks "$B1")
	[ "$(jq -r .type <<<"$t1")" = mediaupd-signed ]
	[ "$(jq -c .keyslots <<<"$t1")" = '[]' ]
	[ "$(jq '.signatures | length' <<<"$t1")" = 1 ]
}

t_veritysetup() {
	extract_data "$B1" "$W/data1"
	verity_verify "$B1" "$W/data1" >/dev/null || fail "veritysetup rejects the signed root hash"
	cp "$W/data1" "$W/data1.bad"
	printf '\xff' | dd of="$W/data1.bad" bs=1 seek=$((4096 * 200 + 17)) conv=notrunc status=none
	cmp -s "$W/data1" "$W/data1.bad" && fail "the byte did not change"
	if verity_verify "$B1" "$W/data1.bad" >/dev/null 2>&1; then
		fail "veritysetup accepts a flipped ciphertext byte"
	fi
}

t_stock_decrypt() {
	stock_decrypt "$B1" "$W/keys/main-2026.key" "$W/plain1"
	fsck.erofs --extract="$W/x1" "$W/plain1" >/dev/null
	[ -f "$W/x1/delta/superblock" ] && [ -f "$W/x1/delta/0" ] && [ -f "$W/x1/manifest" ]
	grep -qx 'format-version=2' "$W/x1/manifest"
	"$TOOL" verify --trusted "$W/sign.pub" "$W/x1/delta/superblock" >/dev/null
	apply_delta "$W/x1/delta" "$V1" "$V2"
}

t_test_passphrase() {
	test_passphrase "$B1" "$W/keys/main-2026.key" 0
	if test_passphrase "$B1" "$W/more/wrong.key" 2>/dev/null; then
		fail "a wrong key opens the bundle"
	fi
}

# --- squashfs, --empty, three keys, two signing keys ----------------------------------------

t_create_squashfs_full() {
	# SOURCE_DATE_EPOCH as dpkg-buildpackage and CI jobs export it: the image's times are
	# create's own, and mksquashfs must not see it.
	SOURCE_DATE_EPOCH=1700000000 create --empty --fs squashfs --keys-dir "$W/keys" --signing-key "$W/sign.secret" \
		--signing-key "$W/sign2.secret" --pbkdf argon2id --pbkdf-memory 1024 \
		--keyslot-room 4 --output "$B3" >/dev/null 2>&1
	[ "$(json "$B3" .header.from_commit)" = "" ]
	[ "$(json "$B3" '[.keyslots[].key_id] | join(",")')" = fallback-1,main-2026,rotation-2027 ]
	[ "$(json "$B3" '.keyslots[0].pbkdf.type')" = argon2id ]
	[ "$(json "$B3" '.keyslots[0].pbkdf.memory_kib')" = 1024 ]
	[ "$(json "$B3" .signatures)" = 2 ]
	[ "$(json "$B3" .header.data_offset)" = $((2 * 65536 + 4 * 258048)) ]
	as_user "$TOOL" inspect --trusted "$W/sign2.pub" "$B3" >/dev/null
	no_leftovers
}

t_three_keys_own_slots() {
	local i k
	i=0
	for k in fallback-1 main-2026 rotation-2027; do
		test_passphrase "$B3" "$W/keys/$k.key" "$i" || fail "$k does not open slot $i"
		i=$((i + 1))
	done
}

t_squashfs_stock() {
	extract_data "$B3" "$W/data3"
	verity_verify "$B3" "$W/data3" >/dev/null
	stock_decrypt "$B3" "$W/keys/rotation-2027.key" "$W/plain3"
	unsquashfs -no-progress -d "$W/x3" "$W/plain3" >/dev/null
	"$TOOL" verify --trusted "$W/sign2.pub" "$W/x3/delta/superblock" >/dev/null
	apply_delta "$W/x3/delta" "" "$V2"
}

t_create_ext4() {
	create --from "$V1" --fs ext4 --signing-key "$W/sign.secret" \
		--key "a=$W/keys/main-2026.key" --output "$W/out/ext4.bundle" >/dev/null 2>&1
	stock_decrypt "$W/out/ext4.bundle" "$W/keys/main-2026.key" "$W/plain4"
	mkdir "$W/x4"
	debugfs -R "rdump / $W/x4" "$W/plain4" >/dev/null 2>&1
	"$TOOL" verify --trusted "$W/sign.pub" "$W/x4/delta/superblock" >/dev/null
	no_leftovers
}

# --- rekey ----------------------------------------------------------------------------------

# The bytes after the LUKS2 header (data and hash tree), which rekey must not touch.
body_sum() {
	tail -c +$(($(json "$1" .header.data_offset) + 1)) "$1" | sha256sum
}

t_rekey_round_trip() {
	local before token_before
	as_user cp "$B3" "$W/out/rk.bundle"
	before=$(body_sum "$W/out/rk.bundle")
	token_before=$(cryptsetup token export --token-id 3 --disable-locks "$W/out/rk.bundle")
	as_user "$TOOL" rekey "$W/out/rk.bundle" --key "main-2026=$W/keys/main-2026.key" \
		--add "new-2028=$W/more/new.key" --remove fallback-1 --remove rotation-2027 \
		>"$W/rk.out" 2>"$W/rk.err" || { cat "$W/rk.err"; fail "rekey failed"; }
	[ "$(json "$W/out/rk.bundle" '[.keyslots[].key_id] | sort | join(",")')" = main-2026,new-2028 ]
	# The new key's slot has the PBKDF of the slot that opened (argon2id, 1024 KiB).
	[ "$(json "$W/out/rk.bundle" '.keyslots[] | select(.key_id == "new-2028") | .pbkdf.memory_kib')" = 1024 ]
	test_passphrase "$W/out/rk.bundle" "$W/more/new.key" || fail "the added key opens nothing"
	if test_passphrase "$W/out/rk.bundle" "$W/keys/fallback-1.key" 2>/dev/null; then
		fail "a removed key still opens the bundle"
	fi
	if test_passphrase "$W/out/rk.bundle" "$W/keys/rotation-2027.key" 2>/dev/null; then
		fail "a removed key still opens the bundle"
	fi
	[ "$(json "$W/out/rk.bundle" .verification.verified)" = true ]
	[ "$(json "$W/out/rk.bundle" .matches_luks)" = true ]
	[ "$(body_sum "$W/out/rk.bundle")" = "$before" ] || fail "rekey changed the data"
	[ "$(cryptsetup token export --token-id 3 --disable-locks "$W/out/rk.bundle")" = "$token_before" ]
	# The added key yields the vendor's volume key: the data still decrypts to the image.
	stock_decrypt "$W/out/rk.bundle" "$W/more/new.key" "$W/plain-rk"
	cmp "$W/plain-rk" "$W/plain3"
}

# refused_rekey ERRORNAME ARGS...: rekey exits 1 naming the error, and the file is unchanged.
refused_rekey() {
	local name=$1 sum rc=0
	shift
	sum=$(sha256sum <"$W/out/rk.bundle")
	as_user "$TOOL" rekey "$W/out/rk.bundle" "$@" >"$W/rr.out" 2>"$W/rr.err" || rc=$?
	[ "$rc" = 1 ] || fail "rekey $* exited $rc"
	grep -qF "[$name]" "$W/rr.err" || fail "no [$name] in: $(cat "$W/rr.err")"
	[ "$(sha256sum <"$W/out/rk.bundle")" = "$sum" ] || fail "the refused rekey changed the file"
}

t_rekey_refusals() {
	local m=main-2026=$W/keys/main-2026.key
	refused_rekey InvalidArgument --key "$m" --remove main-2026 --remove new-2028
	refused_rekey InvalidArgument --key "$m" --add "main-2026=$W/more/wrong.key"
	refused_rekey InvalidArgument --key "$m" --add "again=$W/more/new.key"
	refused_rekey NotFound --key "$m" --remove no-such-id
	refused_rekey NoKey --key "x=$W/more/wrong.key" --add "y=$W/keys/fallback-1.key"
	refused_rekey InvalidKey --key "$m" --add "y=$W/more/short.key"
}

t_rekey_room_full() {
	local b=$W/out/room1.bundle sum rc=0
	create --empty --signing-key "$W/sign.secret" --key "a=$W/keys/main-2026.key" \
		--keyslot-room 1 --output "$b" >/dev/null 2>&1
	sum=$(sha256sum <"$b")
	as_user "$TOOL" rekey "$b" --key "a=$W/keys/main-2026.key" --add "b=$W/more/new.key" \
		>/dev/null 2>"$W/room.err" || rc=$?
	[ "$rc" = 1 ] && grep -qF '[InvalidArgument]' "$W/room.err" && grep -q 'room' "$W/room.err"
	[ "$(sha256sum <"$b")" = "$sum" ] || fail "the refused rekey changed the file"
}

t_rekey_v1() {
	# A v1 bundle is rekeyed the same way (its data and signature are inside the image).
	local v1=$W/out/v1.bundle
	truncate -s 1M "$v1"
	cryptsetup luksFormat --type luks2 --label mediaupd-bundle --subsystem mediaupd-v1 \
		--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$W/keys/main-2026.key" \
		--batch-mode --disable-locks "$v1"
	chown "$(stat -c %u:%g "$W")" "$v1"
	as_user "$TOOL" rekey "$v1" --key "main-2026=$W/keys/main-2026.key" \
		--add "new=$W/more/new.key" >/dev/null
	test_passphrase "$v1" "$W/more/new.key" 1
	[ "$(cryptsetup token export --token-id 0 --disable-locks "$v1" | jq -r .key_id)" = new ]
}

# --- refusals leave nothing -----------------------------------------------------------------

# refused_create ERRORNAME OUTPUT ARGS...: create exits 1 naming the error; no OUTPUT, no
# partial file, no work directory.
refused_create() {
	local name=$1 out=$2 rc=0
	shift 2
	create "$@" --output "$out" >"$W/rc.out" 2>"$W/rc.err" || rc=$?
	[ "$rc" = 1 ] || fail "create $* exited $rc: $(cat "$W/rc.err")"
	grep -qF "[$name]" "$W/rc.err" || fail "no [$name] in: $(cat "$W/rc.err")"
	[ ! -e "$out" ] || fail "output written"
	[ ! -e "$out.partial" ] || fail "partial left"
	no_leftovers
}

t_refusals() {
	local k=main-2026=$W/keys/main-2026.key s=$W/sign.secret
	mkdir -p "$W/locked"
	chmod 0755 "$W/locked"
	if [ "$(id -u)" != 0 ]; then
		chmod 0555 "$W/locked"
	fi
	refused_create InvalidArgument "$W/locked/b" --empty --signing-key "$s" --key "$k"
	refused_create InvalidKey "$W/out/b" --empty --signing-key "$s" --key "x=$W/more/short.key"
	refused_create NotFound "$W/out/b" --from "${V1%??}00" --signing-key "$s" --key "$k"
	refused_create InvalidKey "$W/out/b" --empty --signing-key "$W/not-a-secret" --key "$k"
	refused_create InvalidArgument "$W/out/b" --empty --signing-key "$s" --key "$k" \
		--key "twin=$W/keys/main-2026.key"
}

t_existing_output() {
	local sum rc=0
	sum=$(sha256sum <"$B1")
	create --empty --signing-key "$W/sign.secret" --key "a=$W/keys/main-2026.key" \
		--output "$B1" >/dev/null 2>"$W/ex.err" || rc=$?
	[ "$rc" = 1 ] && grep -qF '[InvalidArgument]' "$W/ex.err" && grep -q -- '--force' "$W/ex.err"
	[ "$(sha256sum <"$B1")" = "$sum" ] || fail "the existing bundle changed"
	no_leftovers
	# --force replaces it, in one rename.
	as_user cp "$B1" "$W/out/force.bundle"
	create --empty --signing-key "$W/sign.secret" --key "a=$W/keys/main-2026.key" --force \
		--output "$W/out/force.bundle" >/dev/null 2>&1
	[ "$(json "$W/out/force.bundle" .header.from_commit)" = "" ]
	no_leftovers
}

# A signal in the middle of a run leaves nothing either: create is stopped by SIGTERM right
# after its first progress line (the run then needs about a second more at least).
t_signal() {
	local pid rc=0 i
	# exec: $! is then the tool itself (setpriv and env exec it too), not a subshell.
	(exec "${AS_USER[@]}" env TMPDIR="$W/tmp" "$TOOL" create --repo "$W/repo" --ref "$REF" \
		--empty --signing-key "$W/sign.secret" --key "a=$W/keys/main-2026.key" \
		--output "$W/out/sig.bundle" >/dev/null 2>"$W/sig.err") &
	pid=$!
	for i in $(seq 1 500); do
		grep -q 'generating the delta' "$W/sig.err" && break
		sleep 0.01
	done
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" = 143 ] || fail "create exited $rc: $(cat "$W/sig.err")"
	grep -q 'stopped by signal' "$W/sig.err"
	[ ! -e "$W/out/sig.bundle" ] || fail "output written"
	[ ! -e "$W/out/sig.bundle.partial" ] || fail "partial left"
	no_leftovers
}

t_usage() {
	local rc=0
	create --empty --signing-key "$W/sign.secret" --key "a=$W/keys/main-2026.key" \
		--keyslot-room 33 --output "$W/out/u" >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ]
	rc=0
	create --empty --signing-key "$W/sign.secret" --keys-dir "$W/keys" --keyslot-room 2 \
		--output "$W/out/u" >/dev/null 2>"$W/u.err" || rc=$?
	[ "$rc" = 1 ] && grep -q 'keyslot-room' "$W/u.err"
	[ ! -e "$W/out/u" ]
}

# --- --cipher adiantum -----------------------------------------------------------------------

# Stock cryptsetup cannot decrypt Adiantum on a host without AF_ALG or device-mapper; the
# cipher is checked against the kernel's test vectors (test tool-adiantum), the decryption by
# create's own self-check here, and by the kernel's dm-crypt in the guest.
t_create_adiantum() {
	local b=$W/out/adiantum.bundle dump data magic
	create --from "$V1" --cipher adiantum --signing-key "$W/sign.secret" \
		--key "main-2026=$W/keys/main-2026.key" --output "$b" >"$W/adi.out" 2>"$W/adi.err" ||
		fail "create: $(cat "$W/adi.err")"
	grep -q 'encrypting the image (xchacha12,aes-adiantum-plain64)' "$W/adi.err"
	grep -q '^Encryption:  LUKS2 xchacha12,aes-adiantum-plain64 256-bit, 4096-byte sectors' \
		"$W/adi.out"
	grep -q '^Self-check:' "$W/adi.out"
	as_user "$TOOL" inspect --trusted "$W/sign.pub" "$b" >/dev/null
	[ "$(json "$b" .verification.verified)" = true ]
	[ "$(json "$b" .matches_luks)" = true ]
	[ "$(json "$b" .header.cipher)" = xchacha12,aes-adiantum-plain64 ]
	[ "$(json "$b" .header.key_size_bits)" = 256 ]
	[ "$(json "$b" .header.to_commit)" = "$V2" ]
	# The segment in Adiantum, the keyslot area in aes-xts (libcryptsetup's own userspace).
	dump=$(cryptsetup luksDump --disable-locks "$b")
	grep -qx '[[:space:]]*cipher: xchacha12,aes-adiantum-plain64' <<<"$dump" || fail "$dump"
	grep -qx '[[:space:]]*Cipher:[[:space:]]*aes-xts-plain64' <<<"$dump" || fail "$dump"
	grep -qx '[[:space:]]*Cipher key:[[:space:]]*512 bits' <<<"$dump" || fail "$dump"
	grep -qx '[[:space:]]*Key:[[:space:]]*256 bits' <<<"$dump" || fail "$dump"
	test_passphrase "$b" "$W/keys/main-2026.key" 0 || fail "the key does not open its slot"
	! test_passphrase "$b" "$W/more/wrong.key" 2>/dev/null || fail "a wrong key opens"
	extract_data "$b" "$W/adi-data"
	verity_verify "$b" "$W/adi-data" >/dev/null
	# Encrypted: no erofs superblock magic (0xE0F5E1E2 at 1024) in the data segment.
	magic=$(od -An -tx4 -j1024 -N4 "$W/adi-data" | tr -d ' ')
	[ "$magic" != e0f5e1e2 ] || fail "the data segment is plaintext"
	data=$(sha256sum <"$W/adi-data")
	# rekey keeps the Adiantum data and gives the new keyslot aes-xts too.
	as_user cp "$b" "$W/out/adiantum-rekeyed.bundle"
	as_user "$TOOL" rekey "$W/out/adiantum-rekeyed.bundle" --key "main-2026=$W/keys/main-2026.key" \
		--add "new=$W/more/new.key" >/dev/null 2>"$W/adi-rekey.err" ||
		fail "rekey: $(cat "$W/adi-rekey.err")"
	test_passphrase "$W/out/adiantum-rekeyed.bundle" "$W/more/new.key" 1 || fail "new key"
	[ "$(json "$W/out/adiantum-rekeyed.bundle" .verification.verified)" = true ]
	extract_data "$W/out/adiantum-rekeyed.bundle" "$W/adi-data2"
	[ "$(sha256sum <"$W/adi-data2")" = "$data" ] || fail "rekey changed the data"
	no_leftovers
}

t_cipher_usage() {
	local rc=0
	create --empty --cipher serpent --signing-key "$W/sign.secret" \
		--key "a=$W/keys/main-2026.key" --output "$W/out/c" >/dev/null 2>"$W/c.err" || rc=$?
	[ "$rc" = 2 ] || fail "exit $rc"
	grep -q "unknown --cipher 'serpent': use aes-xts-plain64 or adiantum" "$W/c.err"
	[ ! -e "$W/out/c" ]
	as_user "$TOOL" create --help | grep -q 'adiantum'
	no_leftovers
}

# --- the recipe of docs/bundle-format.md ----------------------------------------------------

t_recipe() {
	local d=$W/hand
	as_user mkdir -p "$d" "$W/hbin"
	as_user ln -s "$TOOL" "$W/hbin/mediaupd-bundle"
	as_user ostree init --repo="$d/repo" --mode=archive
	as_user ostree pull-local --repo="$d/repo" "$W/repo" "$REF" >/dev/null
	as_user ostree pull-local --repo="$d/repo" "$W/repo" "$V1" >/dev/null
	as_user ostree refs --repo="$d/repo" --create=os/x86_64/main "$V2"
	as_user cp "$W/sign.secret" "$d/release.secret"
	as_user cp "$W/sign.pub" "$d/release.pub"
	as_user cp "$W/keys/main-2026.key" "$W/keys/fallback-1.key" "$d/"
	# The recipe of the docs as it stands (tests/unit/bundle-recipe.sh, shared with vm test 18).
	as_user env PATH="$W/hbin:$PATH" MEDIAUPD_SOURCE_ROOT="$MEDIAUPD_SOURCE_ROOT" \
		"$MEDIAUPD_SOURCE_ROOT/tests/unit/bundle-recipe.sh" "$d" \
		>"$W/recipe.out" 2>&1 || { tail -n 30 "$W/recipe.out"; fail "the recipe fails"; }
	# It inspects and verifies like a bundle of create, for the same update.
	local f
	[ "$(json "$d/bundle" .verification.verified)" = true ]
	[ "$(json "$d/bundle" .matches_luks)" = true ]
	for f in format_version subsystem header.os_id header.os_variant_id header.from_commit \
		header.to_commit header.version header.timestamp header.cipher header.key_size_bits \
		header.sector_size header.data_offset header.verity_hash; do
		[ "$(json "$d/bundle" ".$f")" = "$(json "$B1" ".$f")" ] || fail "$f differs"
	done
	[ "$(json "$d/bundle" '[.keyslots[].key_id] | join(",")')" = main-2026,fallback-1 ]
	extract_data "$d/bundle" "$W/hand-data"
	verity_verify "$d/bundle" "$W/hand-data" >/dev/null
	stock_decrypt "$d/bundle" "$W/keys/fallback-1.key" "$W/hand-plain"
	cmp "$W/hand-plain" "$d/image" || fail "the data does not decrypt to the image"
	as_user "$TOOL" rekey "$d/bundle" --key "main-2026=$d/main-2026.key" \
		--add "new=$W/more/new.key" >/dev/null
	[ "$(json "$d/bundle" .verification.verified)" = true ]
}

t_sign_header_refuses_bad_tree() {
	local d=$W/hand rc=0
	as_user cp "$d/bundle" "$W/out/tampered.bundle"
	printf '\xff' | as_user dd of="$W/out/tampered.bundle" bs=1 \
		seek=$(($(json "$d/bundle" .header.data_offset) + 5000)) conv=notrunc status=none
	as_user "$TOOL" sign-header --repo "$d/repo" --ref os/x86_64/main \
		--superblock "$d/root/delta/superblock" --signing-key "$W/sign.secret" \
		--data-size "$(json "$d/bundle" .header.data_size)" \
		--verity-salt "$(json "$d/bundle" .header.verity_salt)" \
		--root-hash "$(json "$d/bundle" .header.root_hash)" "$W/out/tampered.bundle" \
		>/dev/null 2>"$W/sh.err" || rc=$?
	[ "$rc" = 1 ] && grep -qF '[CorruptBundle]' "$W/sh.err"
}

setup
check "create: erofs delta, one key, progress and summary, nothing left over" t_create_erofs_delta
check "inspect --json: the signed header's fields, keyslots and verification" t_inspect_json
check "inspect: an untrusted key is SignatureInvalid; no --trusted claims nothing" t_inspect_untrusted
check "inspect refuses a changed segment size or a truncated file (CorruptBundle)" t_inspect_tampered
check "cryptsetup luksDump: label, subsystem, fixed segment size, geometry, keyslots" t_luksdump
check "cryptsetup token export: the key-id token and the mediaupd-signed token" t_token_export
check "veritysetup verify accepts the signed root hash and rejects a flipped byte" t_veritysetup
check "stock cryptsetup decrypts the data to an image whose delta applies" t_stock_decrypt
check "cryptsetup open --test-passphrase: the key opens its slot, a wrong key nothing" t_test_passphrase
check "create: squashfs full update, keys dir, argon2id, two signing keys, room 4" t_create_squashfs_full
check "each of three keys opens its own slot" t_three_keys_own_slots
check "squashfs bundle: veritysetup, stock decryption, delta applies" t_squashfs_stock
check "create: ext4 inner image reads back" t_create_ext4
check "rekey: added key opens, removed keys open nothing, data and signature unchanged" t_rekey_round_trip
check "rekey refusals name the error and leave the file as it was" t_rekey_refusals
check "rekey: a full keyslot room is refused, the file unchanged" t_rekey_room_full
check "rekey works on a v1 bundle" t_rekey_v1
check "create refusals leave no output, partial file or work directory" t_refusals
check "create: an existing output is kept unless --force" t_existing_output
check "create: SIGTERM during a run leaves no output, partial file or work directory" t_signal
check "create: bad --keyslot-room is a usage error; too many keys for the room refused" t_usage
check "create --cipher adiantum: verifies, Adiantum segment, aes-xts keyslots, rekey keeps it" t_create_adiantum
check "create: an unknown --cipher is a usage error naming the choices" t_cipher_usage
check "docs recipe: a bundle made by hand inspects, verifies and decrypts like create's" t_recipe
check "sign-header refuses a bundle whose ciphertext does not match its hash tree" t_sign_header_refuses_bad_tree

tap_end
