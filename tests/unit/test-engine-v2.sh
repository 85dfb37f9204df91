#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The engine on format v2 bundles, on the host (TAP): everything a v2 bundle is refused for
# before its first PBKDF, through `mediaupdctl apply --local --json`, each case asserting the
# error name, the phase and that no key was tried (key_trials 0, no keyslot opened in
# libcryptsetup's debug log). The bundles come from `mediaupd-bundle create` and crafted copies
# of one; a good bundle gets as far as the policy check (there is no OSTree sysroot here),
# still without a key trial. What needs dm-verity and dm-crypt is vm test 18.
#
# The data cipher: a bundle made with `create --cipher adiantum` is refused under the default
# configuration, and gets as far as the good one when [Unlock] Ciphers= allows it.
#
# Environment: MEDIAUPD_BUNDLE, MEDIAUPDCTL (the built programs), MEDIAUPD_SOURCE_ROOT.
set -euo pipefail

TOOL=${MEDIAUPD_BUNDLE:?set MEDIAUPD_BUNDLE to the built mediaupd-bundle}
CTL=${MEDIAUPDCTL:?set MEDIAUPDCTL to the built mediaupdctl}
EDIT=${MEDIAUPD_SOURCE_ROOT:?set MEDIAUPD_SOURCE_ROOT}/tests/unit/luks2-edit.py
unset MEDIAUPD_SIGNING_KEY_FILE MEDIAUPD_KEYS_DIR
readonly REF=testos/x86_64/main

# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/tap-lib.sh"

# json_field JSON NAME: a member of a JSON object, as text
json_field() {
	python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# segment FILE FIELD: the data segment's offset or size from FILE's LUKS2 JSON
luks_json() {
	python3 -c 'import json,sys
d=open(sys.argv[1],"rb").read(65536)
j=json.loads(d[4096:d.index(b"\0",4096)])
print(eval(sys.argv[2]))' "$1" "$2"
}

setup() {
	W=$(mktemp -d /tmp/mu-test-engine-v2.XXXXXXXX)
	trap 'rm -rf -- "$W"' EXIT
	mkdir -p "$W/keys" "$W/trusted" "$W/revoked" "$W/run" "$W/state" "$W/b" "$W/tree/usr/lib"
	ostree init --repo="$W/repo" --mode=archive
	printf 'ID=testos\n' >"$W/tree/usr/lib/os-release"
	head -c 200000 /dev/urandom >"$W/tree/usr/lib/data"
	ostree commit --repo="$W/repo" --branch="$REF" --tree=dir="$W/tree" --subject=v1 \
		--add-metadata-string=version=1.0 --timestamp=2026-01-01T00:00:00Z >/dev/null
	head -c 200000 /dev/urandom >"$W/tree/usr/lib/more"
	ostree commit --repo="$W/repo" --branch="$REF" --tree=dir="$W/tree" --subject=v2 \
		--add-metadata-string=version=2.0 --timestamp=2026-02-01T00:00:00Z >/dev/null
	V1=$(ostree rev-parse --repo="$W/repo" "$REF^")
	"$TOOL" keygen --luks "$W/keys/main-2026.key" >/dev/null
	chmod 0600 "$W/keys/main-2026.key"
	"$TOOL" keygen --signing "$W/sign" >/dev/null
	"$TOOL" keygen --signing "$W/unknown" >/dev/null
	"$TOOL" keygen --signing "$W/revoked" >/dev/null
	cp "$W/sign.pub" "$W/revoked.pub" "$W/trusted/"
	cp "$W/revoked.pub" "$W/revoked/"
	printf '%s\n' '[Keys]' "Directories=$W/keys" '[Trust]' "Trusted=$W/trusted" \
		"Revoked=$W/revoked" '[Update]' "Sysroot=$W/no-sysroot" '[Paths]' \
		"StateDirectory=$W/state" "RuntimeDirectory=$W/run" >"$W/v2.conf"
	local s
	for s in sign unknown revoked; do
		"$TOOL" create --repo "$W/repo" --ref "$REF" --from "$V1" \
			--key "main-2026=$W/keys/main-2026.key" --signing-key "$W/$s.secret" \
			--output "$W/b/$s.bundle" >/dev/null 2>&1 || fail "create $s.bundle"
	done
	GOOD=$W/b/sign.bundle
	"$TOOL" create --repo "$W/repo" --ref "$REF" --from "$V1" --cipher adiantum \
		--key "main-2026=$W/keys/main-2026.key" --signing-key "$W/sign.secret" \
		--output "$W/b/adiantum.bundle" >/dev/null 2>&1 || fail "create adiantum.bundle"
	ADIANTUM=$W/b/adiantum.bundle
	with_ciphers serpent-xts-plain64 >"$W/serpent.conf"
	with_ciphers xchacha12,aes-adiantum-plain64 >"$W/adiantum.conf"
}

# with_ciphers LIST: the test configuration with [Unlock] Ciphers=LIST
with_ciphers() {
	cat "$W/v2.conf"
	printf '[Unlock]\nCiphers=%s\n' "$1"
}

# crafted NAME EDIT-ARGS...: a copy of the good bundle with its LUKS2 JSON rewritten
crafted() {
	local out=$W/b/$1
	shift
	cp "$GOOD" "$out"
	python3 "$EDIT" "$out" "$@"
	! cmp -s "$GOOD" "$out" || fail "$out is the good bundle"
}

# refused BUNDLE ERROR PHASE [CONFIG]: the engine refuses BUNDLE with ERROR in PHASE, before
# any key (with the test configuration unless CONFIG is given)
refused() {
	local bundle=$1 want=$2 phase=$3 config=${4:-$W/v2.conf} out result
	out=$(G_MESSAGES_DEBUG=all "$CTL" apply --local "$bundle" --json --config "$config" 2>&1) &&
		fail "$bundle was accepted"
	result=$(grep '^{"event":"result"' <<<"$out" | tail -n 1)
	[ -n "$result" ] || fail "no result line: $out"
	echo "$result"
	[ "$(json_field "$result" error)" = "$want" ] || fail "error $(json_field "$result" error), not $want"
	[ "$(json_field "$result" phase)" = "$phase" ] || fail "phase $(json_field "$result" phase), not $phase"
	[ "$(json_field "$result" key_trials)" = 0 ] || fail "key trials: $(json_field "$result" key_trials)"
	! grep -Ei 'phase unlock|against keyslot|open LUKS2 keyslot|using keyslot|keyslot [0-9]+ \([a-z0-9]+\) open failed' <<<"$out" || fail "a key was tried"
	grep -q 'phase discover' <<<"$out" || fail "no debug log"
}

t_good_reaches_check() { refused "$GOOD" NotFound check; }
t_unknown_signer() { refused "$W/b/unknown.bundle" SignatureInvalid verify; }
t_revoked_signer() { refused "$W/b/revoked.bundle" KeyRevoked verify; }
t_cipher_null() {
	cryptsetup luksDump --dump-volume-key --volume-key-file "$W/vk" --batch-mode \
		--key-file "$W/keys/main-2026.key" --disable-locks "$GOOD" >/dev/null
	crafted cipher-null.bundle --null-keyslot 0 --volume-key "$W/vk"
	refused "$W/b/cipher-null.bundle" CorruptBundle verify | grep -q unencrypted
}
t_segment_size() {
	local size
	size=$(luks_json "$GOOD" 'j["segments"]["0"]["size"]')
	crafted segment-size.bundle --set "segments.0.size=\"$((size - 4096))\""
	refused "$W/b/segment-size.bundle" CorruptBundle verify
}
t_digest() {
	crafted digest.bundle --set 'digests.0.iterations=1001'
	refused "$W/b/digest.bundle" CorruptBundle verify
}
t_no_token() {
	local id
	cp "$GOOD" "$W/b/no-token.bundle"
	id=$(luks_json "$GOOD" '[k for k, t in j["tokens"].items() if t["type"] == "mediaupd-signed"][0]')
	cryptsetup token remove --token-id "$id" --disable-locks "$W/b/no-token.bundle"
	refused "$W/b/no-token.bundle" Unsigned verify
}
t_two_tokens() {
	local id
	cp "$GOOD" "$W/b/two-tokens.bundle"
	id=$(luks_json "$GOOD" '[k for k, t in j["tokens"].items() if t["type"] == "mediaupd-signed"][0]')
	cryptsetup token export --token-id "$id" --disable-locks "$GOOD" >"$W/token.json"
	cryptsetup token import --json-file "$W/token.json" --disable-locks "$W/b/two-tokens.bundle"
	refused "$W/b/two-tokens.bundle" CorruptBundle verify | grep -q "2 signed headers"
}
t_truncated() {
	head -c "$(($(stat -c %s "$GOOD") - 4096))" "$GOOD" >"$W/b/truncated.bundle"
	refused "$W/b/truncated.bundle" CorruptBundle verify
}
t_v1_gate() {
	cp "$GOOD" "$W/b/as-v1.bundle"
	cryptsetup config "$W/b/as-v1.bundle" --label mediaupd-bundle --subsystem mediaupd-v1 \
		--disable-locks
	refused "$W/b/as-v1.bundle" UnsupportedFormat discover | grep -q 'Formats=1;2'
}
t_adiantum_default() {
	local sum result
	sum=$(sha256sum <"$ADIANTUM")
	result=$(refused "$ADIANTUM" UnsupportedFormat verify)
	grep -q "encrypted with 'xchacha12,aes-adiantum-plain64'" <<<"$result" || fail "$result"
	grep -qF '[Unlock] Ciphers=' <<<"$result" || fail "no way out named: $result"
	[ "$(json_field "$result" signing_key)" = "" ] || fail "verified before refusing: $result"
	# Another extra cipher does not let it in either.
	refused "$ADIANTUM" UnsupportedFormat verify "$W/serpent.conf" >/dev/null
	[ "$(sha256sum <"$ADIANTUM")" = "$sum" ] || fail "the bundle changed"
	# Nothing in the state or runtime directories but the engine's lock file.
	[ -z "$(find "$W/run" "$W/state" -mindepth 1 ! -path "$W/run/lock" -print -quit)" ] ||
		fail "left: $(ls -AR "$W/run" "$W/state")"
}
t_adiantum_allowed() {
	local result
	result=$(refused "$ADIANTUM" NotFound check "$W/adiantum.conf")
	[ "$(json_field "$result" signing_key)" = "$(cat "$W/sign.pub")" ] || fail "$result"
	[ "$(json_field "$result" version)" = 2.0 ] || fail "$result"
	# Allowed or not, the aes-xts bundle still gets as far.
	refused "$GOOD" NotFound check "$W/adiantum.conf" >/dev/null
}
t_adiantum_relabelled() {
	# An aes-xts bundle whose live header claims adiantum: the signed header says otherwise.
	crafted relabelled.bundle --set 'segments.0.encryption="xchacha12,aes-adiantum-plain64"'
	refused "$W/b/relabelled.bundle" CorruptBundle verify "$W/adiantum.conf" >/dev/null
}

setup
echo "1..13"
check "a good v2 bundle reaches the policy check before any key" t_good_reaches_check
check "signed by an unknown key: SignatureInvalid before any key" t_unknown_signer
check "signed by a revoked key: KeyRevoked before any key" t_revoked_signer
check "a cipher_null keyslot: CorruptBundle before any key" t_cipher_null
check "the segment's size changed: CorruptBundle before any key" t_segment_size
check "the volume-key digest changed: CorruptBundle before any key" t_digest
check "no signed header: Unsigned before any key" t_no_token
check "two signed headers: CorruptBundle before any key" t_two_tokens
check "cut short: CorruptBundle before any key" t_truncated
check "a v1 bundle under the default configuration: UnsupportedFormat before any key" t_v1_gate
check "an adiantum bundle under the default configuration: UnsupportedFormat before any key" t_adiantum_default
check "an adiantum bundle with [Unlock] Ciphers= allowing it reaches the policy check" t_adiantum_allowed
check "an aes-xts bundle relabelled adiantum: CorruptBundle before any key" t_adiantum_relabelled
[ "$TESTS_FAILED" = 0 ]
