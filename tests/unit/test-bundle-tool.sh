#!/bin/bash
# mediaupd-bundle on the command line, and interoperability of what it writes:
#  - keygen output files: formats and modes; no overwriting
#  - the Ed25519 signature verifies with an independent implementation (openssl),
#    and openssl signing the same bytes with the same secret gives the same signature
#  - stock ostree applies the signed superblock of a real (non-inline) delta offline
#  - verify: exit status and message for good and bad inputs
#  - sign: atomic output, no overwriting without --force, nothing left behind on failure
# TAP output. Environment: MEDIAUPD_BUNDLE (the built tool).
set -euo pipefail

TOOL=${MEDIAUPD_BUNDLE:?set MEDIAUPD_BUNDLE to the built mediaupd-bundle}
W=$(mktemp -d "${TMPDIR:-/tmp}/mu-bundle-tool.XXXXXX")
trap 'rm -rf "$W"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# check DESCRIPTION COMMAND...: passes if the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# run_tool NAME ARGS...: runs the tool; exit status in $W/NAME.rc, output in NAME.out/.err.
run_tool() {
	local name=$1
	shift
	local rc=0
	"$TOOL" "$@" >"$W/$name.out" 2>"$W/$name.err" || rc=$?
	echo "$rc" >"$W/$name.rc"
}
rc_is() { [ "$(cat "$W/$1.rc")" = "$2" ]; }
err_has() { grep -q -- "$2" "$W/$1.err"; }
out_has() { grep -q -- "$2" "$W/$1.out"; }
# refused NAME ERRORNAME: the run exited 1 and named the error on stderr.
refused() { rc_is "$1" 1 && grep -qF "[$2]" "$W/$1.err"; }
quiet() { "$@" >/dev/null 2>&1; }
fails() { ! "$@" >/dev/null 2>&1; }
mode_of() { stat -c %a "$1"; }
b64_len() { base64 -d <"$1" | wc -c; }

# ---- keygen ----
run_tool kg-sign keygen --signing "$W/vendor"
check "keygen --signing succeeds" rc_is kg-sign 0
check "secret key file has mode 600" test "$(mode_of "$W/vendor.secret")" = 600
check "public key file has mode 644" test "$(mode_of "$W/vendor.pub")" = 644
check "secret key file is one base64 line of 64 bytes" \
	test "$(wc -l <"$W/vendor.secret")" = 1 -a "$(b64_len "$W/vendor.secret")" = 64
check "public key file is one base64 line of 32 bytes" \
	test "$(wc -l <"$W/vendor.pub")" = 1 -a "$(b64_len "$W/vendor.pub")" = 32
check "secret key bytes 32..63 are the public key" \
	cmp -s <(base64 -d <"$W/vendor.secret" | tail -c 32) <(base64 -d <"$W/vendor.pub")
check "keygen prints the public key id" out_has kg-sign "$(cat "$W/vendor.pub")"

cp "$W/vendor.secret" "$W/vendor.secret.orig"
run_tool kg-again keygen --signing "$W/vendor"
check "keygen --signing refuses to overwrite (exit 1)" rc_is kg-again 1
check "keygen --signing left the old secret alone" cmp -s "$W/vendor.secret" "$W/vendor.secret.orig"

"$TOOL" keygen --signing "$W/other" >/dev/null
"$TOOL" keygen --signing "$W/old" >/dev/null

run_tool kg-luks keygen --luks "$W/main.key"
check "keygen --luks writes 64 bytes by default" test "$(stat -c %s "$W/main.key")" = 64
check "LUKS key file has mode 600" test "$(mode_of "$W/main.key")" = 600
run_tool kg-luks48 keygen --luks "$W/k48.key" --size 48
check "keygen --luks --size 48 writes 48 bytes" test "$(stat -c %s "$W/k48.key")" = 48
check "two LUKS keys differ" fails cmp -s <(head -c 48 "$W/main.key") "$W/k48.key"
run_tool kg-short keygen --luks "$W/short.key" --size 31
check "keygen --luks --size 31 is a usage error (exit 2)" rc_is kg-short 2
check "no short key file was written" test ! -e "$W/short.key"
cp "$W/main.key" "$W/main.key.orig"
run_tool kg-luks-again keygen --luks "$W/main.key"
check "keygen --luks refuses to overwrite (exit 1)" rc_is kg-luks-again 1
check "keygen --luks left the old key alone" cmp -s "$W/main.key" "$W/main.key.orig"

# ---- an OSTree repo with two commits and a non-inline delta between them ----
R=$W/repo
ostree init --repo="$R" --mode=archive
mkdir -p "$W/t1/usr/bin" "$W/t1/etc"
echo "version 1" >"$W/t1/usr/bin/hello"
echo "setting=1" >"$W/t1/etc/app.conf"
A=$(ostree commit --repo="$R" --branch=os/main --tree=dir="$W/t1" -s v1 --add-metadata-string=version=1)
cp -a "$W/t1" "$W/t2"
echo "version 2" >"$W/t2/usr/bin/hello"
head -c 4096 /dev/urandom >"$W/t2/usr/bin/blob"
B=$(ostree commit --repo="$R" --branch=os/main --tree=dir="$W/t2" -s v2 --add-metadata-string=version=2)
mkdir "$W/gen"
ostree static-delta generate --repo="$R" --from="$A" --to="$B" \
	--filename="$W/gen/superblock" >/dev/null
check "ostree wrote a non-inline delta (superblock + part 0)" test -s "$W/gen/superblock" -a -s "$W/gen/0"

# The bundle's layout: delta/superblock (signed) beside the parts.
mkdir "$W/delta"
cp "$W/gen/0" "$W/delta/"
run_tool sign sign --key "$W/vendor.secret" "$W/gen/superblock" "$W/delta/superblock"
check "sign succeeds" rc_is sign 0
check "signed file starts with OSTSGNDT" test "$(head -c 8 "$W/delta/superblock")" = OSTSGNDT
check "signed file has mode 644" test "$(mode_of "$W/delta/superblock")" = 644
check "sign leaves no temporary file" test "$(find "$W/delta" -name '.*' | wc -l)" = 0

# ---- (a) the signature with openssl, independently of GLib ----
# Envelope (taya{sv}) with one signature: 8-byte magic, the superblock, then the a{sv}
# at the next multiple of 8; its entry key "ostree.sign.ed25519\0" takes 20 bytes, the
# value is 8-aligned (offset 24) and starts with the 64 signature bytes.
sb_len=$(stat -c %s "$W/gen/superblock")
dict=$(((8 + sb_len + 7) / 8 * 8))
tail -c +9 "$W/delta/superblock" | head -c "$sb_len" >"$W/msg"
tail -c +$((dict + 25)) "$W/delta/superblock" | head -c 64 >"$W/sig"
check "child 1 of the envelope is the unsigned superblock" cmp -s "$W/msg" "$W/gen/superblock"
check "the signature entry is ostree.sign.ed25519" \
	test "$(tail -c +$((dict + 1)) "$W/delta/superblock" | head -c 19)" = ostree.sign.ed25519

pem_public() {
	{ printf '302a300506032b6570032100' | xxd -r -p; base64 -d <"$1"; } >"$W/pub.der"
	openssl pkey -pubin -inform DER -in "$W/pub.der" -out "$2"
}
pem_secret() {
	{ printf '302e020100300506032b657004220420' | xxd -r -p; base64 -d <"$1" | head -c 32; } \
		>"$W/sec.der"
	openssl pkey -inform DER -in "$W/sec.der" -out "$2"
	rm -f "$W/sec.der"
}
pem_public "$W/vendor.pub" "$W/vendor.pem"
pem_public "$W/other.pub" "$W/other.pem"
check "openssl verifies the signature with the vendor's public key" \
	quiet openssl pkeyutl -verify -pubin -inkey "$W/vendor.pem" -rawin -in "$W/msg" -sigfile "$W/sig"
check "openssl rejects the signature with another public key" \
	fails openssl pkeyutl -verify -pubin -inkey "$W/other.pem" -rawin -in "$W/msg" -sigfile "$W/sig"
pem_secret "$W/vendor.secret" "$W/vendor-secret.pem"
openssl pkeyutl -sign -inkey "$W/vendor-secret.pem" -rawin -in "$W/msg" -out "$W/sig.openssl"
check "openssl signing with the same secret gives the same signature" \
	cmp -s "$W/sig" "$W/sig.openssl"
check "openssl derives the same public key from the secret's seed" \
	cmp -s <(openssl pkey -in "$W/vendor-secret.pem" -pubout -outform DER | tail -c 32) \
	<(base64 -d <"$W/vendor.pub")

# ---- (b) stock ostree applies the signed delta offline ----
T=$W/target
ostree init --repo="$T" --mode=bare-user
ostree pull-local --repo="$T" "$R" "$A" >/dev/null
check "target repo has the from-commit" quiet ostree show --repo="$T" "$A"
check "target repo lacks the to-commit before applying" \
	fails ostree show --repo="$T" "$B"
check "ostree static-delta apply-offline accepts the signed superblock" \
	quiet ostree static-delta apply-offline --repo="$T" "$W/delta/superblock"
check "the to-commit is in the target repo" quiet ostree show --repo="$T" "$B"
check "ostree fsck of the target repo is clean" quiet ostree fsck --repo="$T"

# ---- verify on the command line ----
run_tool v-good verify --trusted "$W/vendor.pub" "$W/delta/superblock"
check "verify with the right key: exit 0" rc_is v-good 0
check "verify names the key that verified" out_has v-good "$(cat "$W/vendor.pub")"

mkdir "$W/trusted.d" "$W/revoked.d"
cp "$W/other.pub" "$W/trusted.d/10-other"
cp "$W/vendor.pub" "$W/trusted.d/20-vendor"
run_tool v-dir verify --trusted "$W/trusted.d" "$W/delta/superblock"
check "verify with a trusted directory: exit 0" rc_is v-dir 0
check "verify names the file the key came from" out_has v-dir "trusted.d/20-vendor:1"

run_tool v-wrong verify --trusted "$W/other.pub" "$W/delta/superblock"
check "verify with a wrong key: exit 1, SignatureInvalid" \
	refused v-wrong SignatureInvalid
check "verify refusal prints nothing on stdout" test ! -s "$W/v-wrong.out"

cp "$W/vendor.pub" "$W/revoked.d/vendor-2025"
run_tool v-revoked verify --trusted "$W/trusted.d" --revoked "$W/revoked.d" "$W/delta/superblock"
check "verify with the key revoked: exit 1, KeyRevoked" \
	refused v-revoked KeyRevoked

run_tool v-unsigned verify --trusted "$W/vendor.pub" "$W/gen/superblock"
check "verify of the unsigned superblock: exit 1, Unsigned" \
	refused v-unsigned Unsigned

cp "$W/delta/superblock" "$W/tampered"
# XOR the byte: writing a constant could write the byte that is already there.
off=$((8 + sb_len / 2))
old=$(od -An -tu1 -j "$off" -N1 "$W/tampered" | tr -d ' ')
# shellcheck disable=SC2059
printf "\\$(printf %03o $((old ^ 0xff)))" | dd of="$W/tampered" bs=1 seek="$off" conv=notrunc status=none
differs() { ! cmp -s "$1" "$2"; }
check "the tampered superblock differs from the signed one" \
	differs "$W/delta/superblock" "$W/tampered"
run_tool v-tampered verify --trusted "$W/vendor.pub" "$W/tampered"
check "verify of a superblock with one changed byte: exit 1, SignatureInvalid" \
	refused v-tampered SignatureInvalid

head -c $(($(stat -c %s "$W/delta/superblock") - 30)) "$W/delta/superblock" >"$W/truncated"
run_tool v-truncated verify --trusted "$W/vendor.pub" "$W/truncated"
check "verify of a truncated envelope: exit 1, CorruptDelta" \
	refused v-truncated CorruptDelta

echo "not base64" >"$W/bad.pub"
run_tool v-badkey verify --trusted "$W/bad.pub" "$W/delta/superblock"
check "verify with a malformed key file: exit 1, InvalidKey" refused v-badkey InvalidKey
check "verify with a malformed key file names the file and line" err_has v-badkey "bad.pub' line 1"

run_tool v-nokeyfile verify --trusted "$W/missing.pub" "$W/delta/superblock"
check "verify with a missing key file: exit 1, NotFound" \
	refused v-nokeyfile NotFound

run_tool v-usage verify "$W/delta/superblock"
check "verify without --trusted is a usage error (exit 2)" rc_is v-usage 2

# ---- sign: several keys, overwriting, failures ----
run_tool sign-two sign --key "$W/other.secret" --key "$W/vendor.secret" "$W/gen/superblock" "$W/two"
check "sign with two keys succeeds" rc_is sign-two 0
run_tool v-two-a verify --trusted "$W/vendor.pub" "$W/two"
run_tool v-two-b verify --trusted "$W/other.pub" "$W/two"
check "a two-signature envelope verifies with the first key" rc_is v-two-a 0
check "a two-signature envelope verifies with the second key" rc_is v-two-b 0
run_tool v-two-revoked verify --trusted "$W/trusted.d" --revoked "$W/revoked.d" "$W/two"
check "one revoked and one valid signature: exit 0" rc_is v-two-revoked 0
check "one revoked and one valid signature: the valid key is named" out_has v-two-revoked 10-other

cp "$W/two" "$W/two.orig"
run_tool sign-exists sign --key "$W/vendor.secret" "$W/gen/superblock" "$W/two"
check "sign refuses an existing OUTPUT (exit 1)" rc_is sign-exists 1
check "sign kept the existing OUTPUT" cmp -s "$W/two" "$W/two.orig"
run_tool sign-force sign --force --key "$W/vendor.secret" "$W/gen/superblock" "$W/two"
check "sign --force succeeds" rc_is sign-force 0
check "sign --force replaced OUTPUT" cmp -s "$W/two" "$W/delta/superblock"

run_tool sign-resign sign --key "$W/vendor.secret" "$W/delta/superblock" "$W/resigned"
check "sign refuses an already signed superblock (exit 1)" rc_is sign-resign 1
check "no output after refusing a signed superblock" test ! -e "$W/resigned"
run_tool sign-nokey sign --key "$W/missing.secret" "$W/gen/superblock" "$W/out1"
check "sign with a missing key file: exit 1, NotFound" refused sign-nokey NotFound
check "no output after a missing key file" test ! -e "$W/out1"
run_tool sign-pubkey sign --key "$W/vendor.pub" "$W/gen/superblock" "$W/out2"
check "sign with a public key as secret: exit 1, InvalidKey" refused sign-pubkey InvalidKey
check "sign with a public key as secret says the key length" err_has sign-pubkey "32 bytes"
check "no output after a wrong key file" test ! -e "$W/out2"
run_tool sign-usage sign "$W/gen/superblock" "$W/out3"
check "sign without --key is a usage error (exit 2)" rc_is sign-usage 2
check "no temporary files anywhere after failures" test "$(find "$W" -name '.*.??????' | wc -l)" = 0

echo "1..$n"
[ "$failed" = 0 ]
