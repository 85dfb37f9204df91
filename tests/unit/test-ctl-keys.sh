#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# mediaupdctl keys list|seal on a key directory of the test's own, with the real
# systemd-creds and a host secret of the test's own ($SYSTEMD_CREDENTIAL_SECRET): list shows
# ids, paths, plain or sealed and the seal, never a byte of a key in any encoding; seal
# turns every plain key into a credential and leaves no plain file; refusals change nothing;
# a crash between the steps of seal leaves a usable key. TAP on stdout.
#
# Environment: MEDIAUPDCTL.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=tap-lib.sh
. "$(dirname "$0")/tap-lib.sh"

CTL=$MEDIAUPDCTL
if ! command -v systemd-creds >/dev/null; then
	echo "1..0 # SKIP systemd-creds is not installed"
	exit 0
fi

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export SYSTEMD_CREDENTIAL_SECRET=$W/host.secret
K=$W/keys
mkdir -m 0700 "$K"
printf '[Keys]\nDirectories=%s\n' "$K" >"$W/test.conf"
# The keys' bytes, kept apart from the key directory for the checks.
mkdir "$W/plain"
head -c 32 /dev/urandom >"$W/plain/main-2026.key"
head -c 64 /dev/urandom >"$W/plain/spare.key"

# reset: both keys plain in the key directory, nothing else
reset() {
	rm -f "$K"/*
	cp "$W/plain/main-2026.key" "$W/plain/spare.key" "$K/"
	chmod 0600 "$K"/*.key
}

# ctl ARGS...: mediaupdctl with the test configuration
ctl() {
	"$CTL" "$@" --config "$W/test.conf"
}

# no_key_bytes FILE: FILE holds no key bytes: not raw, not as hex (either case), not as
# base64 (standard or URL-safe, from any of the three alignments), looking at every
# window of 8 key bytes
no_key_bytes() {
	python3 - "$1" "$W/plain/main-2026.key" "$W/plain/spare.key" <<'EOF'
import base64, sys
out = open(sys.argv[1], "rb").read()
for path in sys.argv[2:]:
    key = open(path, "rb").read()
    for i in range(len(key) - 7):
        w = key[i:i + 8]
        for enc in (w, w.hex().encode(), w.hex().upper().encode()):
            if enc in out:
                sys.exit(f"{path}: bytes {i}..{i + 7} are in the output ({enc!r})")
    for off in range(3):
        for b64 in (base64.b64encode(key[off:]), base64.urlsafe_b64encode(key[off:])):
            body = b64.rstrip(b"=")[:-2]  # the last characters depend on what follows
            for j in range(0, len(body) - 11, 4):
                if body[j:j + 12] in out:
                    sys.exit(f"{path}: base64 {body[j:j + 12]!r} is in the output")
EOF
}

# files: the names in the key directory, sorted, on one line
files() {
	find "$K" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' '
}

t_list_plain() {
	reset
	ctl keys list >"$W/out"
	cat "$W/out"
	grep -Eq "^main-2026 +plain +- +$K/main-2026.key$" "$W/out" || fail "main-2026 not listed as plain"
	grep -Eq "^spare +plain +- +$K/spare.key$" "$W/out" || fail "spare not listed as plain"
	no_key_bytes "$W/out"
	ctl keys list --json >"$W/out"
	cat "$W/out"
	grep -qxF "{\"event\":\"key\",\"id\":\"spare\",\"path\":\"$K/spare.key\",\"stored\":\"plain\"}" "$W/out" ||
		fail "no JSON line for spare"
	no_key_bytes "$W/out"
}

t_seal_all() {
	reset
	ctl keys seal --with-key=host >"$W/out" 2>&1 || fail "seal failed: $(cat "$W/out")"
	cat "$W/out"
	no_key_bytes "$W/out"
	[ "$(files)" = "main-2026.cred spare.cred " ] || fail "left: $(files)"
	for f in "$K"/*.cred; do
		[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f")"
	done
	no_key_bytes "$K/main-2026.cred"
	no_key_bytes "$K/spare.cred"
	ctl keys list >"$W/out"
	cat "$W/out"
	grep -Eq "^main-2026 +sealed +host +$K/main-2026.cred$" "$W/out" || fail "main-2026 not sealed"
	grep -Eq "^spare +sealed +host +$K/spare.cred$" "$W/out" || fail "spare not sealed"
	no_key_bytes "$W/out"
	ctl keys list --json >"$W/out"
	grep -qxF "{\"event\":\"key\",\"id\":\"main-2026\",\"path\":\"$K/main-2026.cred\",\"stored\":\"sealed\",\"seal\":\"host\"}" "$W/out" ||
		fail "no JSON line for main-2026: $(cat "$W/out")"
	no_key_bytes "$W/out"
	# The credential decrypts, under its id, to the very key.
	systemd-creds decrypt --name=spare "$K/spare.cred" - | cmp - "$W/plain/spare.key"
	# Nothing left to do.
	ctl keys seal >"$W/out" 2>&1 || fail "second seal failed"
	grep -q "No plain key file to seal" "$W/out" || fail "$(cat "$W/out")"
}

t_seal_one() {
	reset
	ctl keys seal --with-key=host --json spare >"$W/out"
	cat "$W/out"
	grep -qF '"event":"sealed","success":true,"id":"spare"' "$W/out" || fail "no result line"
	no_key_bytes "$W/out"
	[ "$(files)" = "main-2026.key spare.cred " ] || fail "left: $(files)"
}

# Refused: each leaves the directory as it was.
t_refusals() {
	local before rc
	reset
	before=$(sha256sum "$K"/* | sort)
	rc=0
	ctl keys seal --with-key=host nosuch >"$W/out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "unknown id: exit status $rc"
	grep -q "No plain key file nosuch.key in $K" "$W/out" || fail "$(cat "$W/out")"
	rc=0
	ctl keys seal --with-key=tpm3 >"$W/out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "--with-key=tpm3: exit status $rc"
	grep -q "use host, tpm2, host+tpm2 or auto" "$W/out" || fail "$(cat "$W/out")"
	rc=0
	ctl keys seal ../spare >"$W/out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "../spare: exit status $rc"
	rc=0
	ctl keys list spare >"$W/out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "list spare: exit status $rc"
	rc=0
	ctl keys >"$W/out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "no subcommand: exit status $rc"
	[ "$(sha256sum "$K"/* | sort)" = "$before" ] || fail "the key directory changed"
}

# A crash after the credential was renamed into place, before the plain file went: both
# are there, the key loads (apply --local would use the sealed one), and seal finishes.
t_crash() {
	local rc=0
	if ! "$CTL" --version | grep -q 'test hooks'; then
		echo "needs -Dtest_hooks=true: skipped"
		return 0
	fi
	reset
	MEDIAUPD_TEST_SEAL_CRASH=renamed ctl keys seal --with-key=host main-2026 >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	[ "$rc" = 70 ] || fail "exit status $rc, not the hook's 70"
	[ "$(files)" = "main-2026.cred main-2026.key spare.key " ] || fail "left: $(files)"
	ctl keys list >"$W/out"
	grep -Eq "^main-2026 +sealed" "$W/out" || fail "$(cat "$W/out")"
	ctl keys seal --with-key=host main-2026 >"$W/out" 2>&1 || fail "$(cat "$W/out")"
	[ "$(files)" = "main-2026.cred spare.key " ] || fail "left: $(files)"
	systemd-creds decrypt --name=main-2026 "$K/main-2026.cred" - | cmp - "$W/plain/main-2026.key"
}

check "keys list: plain keys, ids and paths, no key bytes" t_list_plain
check "keys seal: every plain key sealed, no plain file left, list shows the seal" t_seal_all
check "keys seal ID: only that key" t_seal_one
check "keys: refusals leave the key directory as it was" t_refusals
check "keys seal: a crash between rename and unlink leaves a usable key" t_crash
tap_end
