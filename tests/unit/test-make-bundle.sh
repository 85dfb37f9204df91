#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Test of scripts/make-encrypted-bundle.sh (TAP), the CI entry point that wraps
# `mediaupd-bundle create`: its options and environment reach `create` (each one visible in
# the bundle made), the tool is found as documented ($MEDIAUPD_BUNDLE, beside the script,
# $PATH), the exit status is create's (0, 1, 2, 143 after SIGTERM), a failed run leaves no
# output, partial file or work file, and the bundles are format v2 bundles that
# `mediaupd-bundle inspect --trusted` accepts. The script runs as an unprivileged user
# (nobody, via setpriv, when the test runs as root) on an OSTree archive repository with two
# commits made here. What `create` itself guarantees (read-back with stock tools, every
# refusal of its own) is tests/unit/test-bundle-create.sh.
#
# Environment: MAKE_BUNDLE_SCRIPT (the script), MEDIAUPD_BUNDLE (the built mediaupd-bundle),
# MEDIAUPD_SOURCE_ROOT (for keys-example/; default: two levels above this file).
set -euo pipefail

SCRIPT=${MAKE_BUNDLE_SCRIPT:?set MAKE_BUNDLE_SCRIPT to scripts/make-encrypted-bundle.sh}
TOOL=${MEDIAUPD_BUNDLE:?set MEDIAUPD_BUNDLE to the built mediaupd-bundle}
MEDIAUPD_SOURCE_ROOT=${MEDIAUPD_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
unset MEDIAUPD_SIGNING_KEY_FILE MEDIAUPD_KEYS_DIR MEDIAUPD_BUNDLE
readonly REF=os/x86_64/main

# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/tap-lib.sh"

# --- set-up ---------------------------------------------------------------------------------

setup() {
	W=$(mktemp -d /tmp/mu-test-make-bundle.XXXXXXXX)
	trap 'rm -rf -- "$W"' EXIT
	if [ "$(id -u)" = 0 ]; then
		chown "$NOBODY:$NOBODY" "$W"
	fi
	chmod 0700 "$W"
	as_user mkdir -p "$W/bin" "$W/tmp" "$W/out" "$W/refuse" "$W/keys" "$W/alone" "$W/path"
	# Copies the user can reach: the script alone, the script beside the tool, the tool.
	install_copy "$SCRIPT" "$W/alone/make-encrypted-bundle.sh"
	install_copy "$SCRIPT" "$W/bin/make-encrypted-bundle.sh"
	install_copy "$TOOL" "$W/bin/mediaupd-bundle"
	install_copy "$TOOL" "$W/path/mediaupd-bundle"
	SCRIPT=$W/alone/make-encrypted-bundle.sh
	TOOL=$W/bin/mediaupd-bundle
	make_repo
	make_keys
}

install_copy() {
	cp -- "$1" "$2"
	chmod 0755 "$2"
	chown "$(stat -c %u:%g "$W")" "$2"
}

make_repo() {
	as_user ostree init --repo="$W/repo" --mode=archive
	as_user mkdir -p "$W/tree/usr/bin" "$W/tree/usr/lib"
	as_user bash -c "head -c 200000 /dev/urandom >'$W/tree/usr/bin/tool' &&
		printf 'ID=testos\nPRETTY_NAME=\"TestOS 1.0\"\n' >'$W/tree/usr/lib/os-release'"
	as_user ostree commit --repo="$W/repo" --branch="$REF" --tree=dir="$W/tree" \
		--subject=v1 --add-metadata-string=version=1.0 >/dev/null
	as_user bash -c "head -c 100000 /dev/urandom >'$W/tree/usr/bin/new-tool'"
	as_user ostree commit --repo="$W/repo" --branch="$REF" --tree=dir="$W/tree" \
		--subject=v2 --add-metadata-string=version=2.0 >/dev/null
	V1=$(ostree rev-parse --repo="$W/repo" "$REF^")
	V2=$(ostree rev-parse --repo="$W/repo" "$REF")
}

make_keys() {
	local k
	for k in main-2026 fallback-1 rotation-2027; do
		as_user "$TOOL" keygen --luks "$W/keys/$k.key" >/dev/null
	done
	as_user "$TOOL" keygen --signing "$W/sign" >/dev/null
	as_user "$TOOL" keygen --signing "$W/other" >/dev/null
	as_user "$TOOL" keygen --signing "$W/stranger" >/dev/null
}

# wrapper [VAR=VALUE...] ARGS...: the script as the unprivileged user, with a private TMPDIR
# and the tool given by MEDIAUPD_BUNDLE unless VAR=VALUE says otherwise.
wrapper() {
	local envs=(TMPDIR="$W/tmp" MEDIAUPD_BUNDLE="$TOOL")
	while [ $# -gt 0 ] && [[ $1 =~ ^[A-Z_]+= ]]; do
		envs+=("$1")
		shift
	done
	as_user env "${envs[@]}" "$SCRIPT" "$@"
}

# The bundle's inspect --json as seen by a device trusting sign.pub, or fail.
inspect_trusted() {
	"$TOOL" inspect --trusted "$W/sign.pub" --json "$1" >"$W/inspect.json" ||
		fail "inspect --trusted refused $1: $(cat "$W/inspect.json")"
	cat "$W/inspect.json"
}

# jq_is FILE FILTER EXPECTED: the jq FILTER over FILE prints EXPECTED (its outputs joined by
# spaces).
jq_is() {
	local got
	got=$(jq -c -r "$2" "$1" | paste -s -d ' ')
	[ "$got" = "$3" ] || fail "$2 is '$got', expected '$3'"
}

# opened_slot BUNDLE KEY: the keyslot KEY opens, as the device's own code finds it.
opened_slot() {
	"$TOOL" inspect --key "$2" --json "$1" | jq -e -r '.key | select(.opened) | .slot'
}

# No output, no partial file beside it, nothing in TMPDIR.
check_nothing_left() {
	local out=$1 left
	[ ! -e "$out" ] || fail "'$out' was written although the run failed"
	left=$(find "$W/refuse" "$W/tmp" -mindepth 1 ! -name 'existing.enc' | head -n 5)
	[ -z "$left" ] || fail "left behind: $left"
}

# refused STATUS EXPECTED_MESSAGE ARGS...: the run exits with STATUS, says EXPECTED_MESSAGE
# and leaves nothing.
refused() {
	local want=$1 expect=$2 out=$W/refuse/refused.enc rc=0
	shift 2
	wrapper "$@" --output "$out" >"$W/refused.log" 2>&1 || rc=$?
	cat "$W/refused.log"
	[ "$rc" = "$want" ] || fail "exit status $rc, expected $want"
	grep -q -- "$expect" "$W/refused.log" || fail "the message does not say '$expect'"
	check_nothing_left "$out"
}

# --- test cases -----------------------------------------------------------------------------

t_help() {
	local out
	out=$(wrapper --help)
	grep -q -- '--signing-key FILE' <<<"$out" || fail "--help does not show the command line"
	grep -q 'MEDIAUPD_KEYS_DIR' <<<"$out" || fail "--help does not name the environment"
	grep -q 'format v2' <<<"$out" || fail "--help does not say which format"
	# Help needs no tool: it is the script's own.
	as_user env MEDIAUPD_BUNDLE="$W/nonexistent" "$SCRIPT" -h | grep -q -- '--keys-dir DIR'
}

# The CI command line of docs/make-encrypted-bundle.md: a delta, --keys-dir, the defaults.
t_delta_keys_dir() {
	local out=$W/out/delta.enc uid
	uid=$(as_user id -u)
	[ "$uid" != 0 ] || fail "the bundle maker would run as root"
	wrapper --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys" --output "$out" >"$W/summary"
	cat "$W/summary"
	grep -q '^Format: *mediaupd bundle v2' "$W/summary" || fail "summary does not say format v2"
	inspect_trusted "$out" >/dev/null
	jq_is "$W/inspect.json" '.format_version, .subsystem' "2 mediaupd-v2"
	jq_is "$W/inspect.json" '.verification.verified, .matches_luks' "true true"
	jq_is "$W/inspect.json" '[.header.from_commit, .header.to_commit, .header.version] | join(" ")' \
		"$V1 $V2 2.0"
	jq_is "$W/inspect.json" '[.keyslots[] | "\(.slot):\(.key_id):\(.pbkdf.type):\(.pbkdf.iterations)"] | join(" ")' \
		"0:fallback-1:pbkdf2:1000 1:main-2026:pbkdf2:1000 2:rotation-2027:pbkdf2:1000"
	[ "$(opened_slot "$out" "$W/keys/rotation-2027.key")" = 2 ] || fail "rotation-2027 does not open slot 2"
	# A device trusting another key refuses it.
	if "$TOOL" inspect --trusted "$W/stranger.pub" "$out" >/dev/null 2>&1; then
		fail "inspect --trusted accepted the bundle with a key that did not sign it"
	fi
	[ "$(stat -c %a "$out")" = 644 ] || fail "the bundle is not mode 0644"
	check_nothing_left "$W/refuse/none"
}

# The GitLab way: key paths from file variables (environment), a full update, --to, squashfs,
# argon2id, two signing keys, --key ID=FILE and the --opt=value spelling.
t_env_and_options() {
	local out=$W/out/full.enc
	wrapper MEDIAUPD_SIGNING_KEY_FILE="$W/sign.secret" MEDIAUPD_KEYS_DIR="$W/keys" \
		--repo "$W/repo" --ref "$REF" --empty --to "$V1" --fs=squashfs \
		--output "$out" >/dev/null
	inspect_trusted "$out" >/dev/null
	jq_is "$W/inspect.json" '.header.to_commit' "$V1"
	jq_is "$W/inspect.json" '.header.from_commit' ""
	jq_is "$W/inspect.json" '[.keyslots[].key_id] | join(" ")' "fallback-1 main-2026 rotation-2027"
	cryptsetup luksDump --disable-locks "$out" >/dev/null || fail "cryptsetup does not load the header"
	out=$W/out/argon2id.enc
	wrapper MEDIAUPD_SIGNING_KEY_FILE="$W/stranger.secret" MEDIAUPD_KEYS_DIR="$W/nonexistent" \
		--repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--signing-key "$W/other.secret" --key "a=$W/keys/main-2026.key" \
		--key "b=$W/keys/fallback-1.key" --pbkdf argon2id --pbkdf-memory=32768 \
		--pbkdf-iterations 4 --pbkdf-parallel 1 --keyslot-room 3 --output "$out" >/dev/null
	inspect_trusted "$out" >/dev/null
	jq_is "$W/inspect.json" '.signatures' 2
	"$TOOL" inspect --trusted "$W/other.pub" "$out" >/dev/null || fail "the second signature does not verify"
	if "$TOOL" inspect --trusted "$W/stranger.pub" "$out" >/dev/null 2>&1; then
		fail "MEDIAUPD_SIGNING_KEY_FILE was used although --signing-key was given"
	fi
	jq_is "$W/inspect.json" '[.keyslots[] | "\(.key_id):\(.pbkdf.type):\(.pbkdf.iterations):\(.pbkdf.memory_kib):\(.pbkdf.parallel)"] | join(" ")' \
		"a:argon2id:4:32768:1 b:argon2id:4:32768:1"
	[ "$(opened_slot "$out" "$W/keys/fallback-1.key")" = 1 ] || fail "key b does not open slot 1"
	# Room for 3 keyslots: the data starts after 2 x 64 KiB of metadata and 3 keyslot areas.
	jq_is "$W/inspect.json" '.header.data_offset' $((2 * 65536 + 3 * 258048))
}

t_ext4() {
	local out=$W/out/ext4.enc
	wrapper --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--key "only=$W/keys/main-2026.key" --fs ext4 --output "$out" >"$W/summary"
	grep -q '^Inner image: *ext4' "$W/summary" || fail "not an ext4 inner image"
	inspect_trusted "$out" >/dev/null
	jq_is "$W/inspect.json" '[.keyslots[].key_id] | join(" ")' only
}

# The script finds the tool beside itself, then on $PATH; MEDIAUPD_BUNDLE wins over both.
t_finds_tool() {
	local out=$W/out/found.enc
	as_user env -u MEDIAUPD_BUNDLE TMPDIR="$W/tmp" PATH=/usr/bin:/bin "$W/bin/make-encrypted-bundle.sh" \
		--repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys" --output "$out" >/dev/null || fail "the tool beside the script was not used"
	inspect_trusted "$out" >/dev/null
	rm -f "$out"
	as_user env -u MEDIAUPD_BUNDLE TMPDIR="$W/tmp" PATH="$W/path:/usr/bin:/bin" "$SCRIPT" \
		--repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys" --output "$out" >/dev/null || fail "the tool on \$PATH was not used"
	inspect_trusted "$out" >/dev/null
	# A MEDIAUPD_BUNDLE that is not the tool: its own exit status comes back, so it ran.
	as_user bash -c "printf '#!/bin/sh\necho \"fake \$*\"; exit 7\n' >'$W/fake' && chmod 0755 '$W/fake'"
	local rc=0
	as_user env TMPDIR="$W/tmp" PATH="$W/path:/usr/bin:/bin" MEDIAUPD_BUNDLE="$W/fake" \
		"$W/bin/make-encrypted-bundle.sh" --repo "a b" --force >"$W/fake.log" 2>&1 || rc=$?
	[ "$rc" = 7 ] || fail "exit status $rc of a MEDIAUPD_BUNDLE exiting 7"
	# The arguments arrive unchanged, each one whole, after the command name.
	[ "$(cat "$W/fake.log")" = "fake create --repo a b --force" ] ||
		fail "the tool got: $(cat "$W/fake.log")"
}

t_missing_tool() {
	refused 1 "MEDIAUPD_BUNDLE='$W/nonexistent' is not an executable file" \
		MEDIAUPD_BUNDLE="$W/nonexistent" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$W/sign.secret" --keys-dir "$W/keys"
	grep -q 'hint: ' "$W/refused.log" || fail "the message does not say what to do"
	# No MEDIAUPD_BUNDLE, none beside the script, none on $PATH.
	local rc=0
	as_user env -u MEDIAUPD_BUNDLE TMPDIR="$W/tmp" PATH=/usr/bin:/bin "$SCRIPT" --repo "$W/repo" \
		--ref "$REF" --from "$V1" --signing-key "$W/sign.secret" --keys-dir "$W/keys" \
		--output "$W/refuse/x.enc" >"$W/tool.log" 2>&1 || rc=$?
	cat "$W/tool.log"
	[ "$rc" = 1 ] || fail "exit status $rc without the tool, expected 1"
	grep -q "the tool 'mediaupd-bundle' is missing" "$W/tool.log" || fail "no clear message"
	grep -q "mediaupd-tools" "$W/tool.log" || fail "does not say which package to install"
	check_nothing_left "$W/refuse/x.enc"
	# A PATH without mkfs.erofs: create says which package to install.
	refused 1 "the tool 'mkfs.erofs' is missing: install the Debian package erofs-utils" \
		PATH="$W/no-such-dir" "${COMMON[@]}" --keys-dir "$W/keys"
}

# 31 keys fit without any option (the header grows to them); 32 are refused: LUKS2 has 32
# tokens, one key-id token per key and one for the signed header (v1 bundles held 32 keys).
t_31_keys_and_32() {
	local out=$W/out/many.enc i args=()
	as_user mkdir -p "$W/many"
	for i in $(seq -w 1 32); do
		as_user "$TOOL" keygen --luks "$W/many/k$i.key" >/dev/null
	done
	for i in $(seq -w 1 31); do
		args+=(--key "k$i=$W/many/k$i.key")
	done
	wrapper --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		"${args[@]}" --output "$out" >/dev/null
	inspect_trusted "$out" >/dev/null
	jq_is "$W/inspect.json" '.keyslots | length' 31
	[ "$(opened_slot "$out" "$W/many/k31.key")" = 30 ] || fail "the 31st key does not open slot 30"
	refused 1 "32 encryption keys given, a bundle holds at most 31" --repo "$W/repo" \
		--ref "$REF" --from "$V1" --signing-key "$W/sign.secret" --keys-dir "$W/many"
}

t_force() {
	local out=$W/refuse/existing.enc rc=0
	as_user bash -c "echo old >'$out'"
	wrapper --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys" --output "$out" >"$W/force.log" 2>&1 || rc=$?
	cat "$W/force.log"
	[ "$rc" = 1 ] || fail "exit status $rc for an existing output, expected 1"
	grep -q "exists already" "$W/force.log" || fail "the message does not say the output exists"
	[ "$(cat "$out")" = old ] || fail "the existing output was changed"
	check_nothing_left "$W/refuse/none"
	wrapper --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys" --output "$out" --force >/dev/null
	inspect_trusted "$out" >/dev/null
	rm -f "$out"
}

# The demo of keys-example/README.md works: its keys make a bundle that its trusted key accepts.
t_example_keys() {
	local ex=$W/keys-example out=$W/out/example.enc
	cp -r "$MEDIAUPD_SOURCE_ROOT/keys-example" "$ex"
	chown -R "$(stat -c %u:%g "$W")" "$ex"
	wrapper --repo "$W/repo" --ref "$REF" --empty --signing-key "$ex/example-signing.secret" \
		--keys-dir "$ex" --output "$out" >/dev/null
	"$TOOL" inspect --trusted "$ex/trusted.ed25519" --json "$out" >"$W/inspect.json" ||
		fail "keys-example/trusted.ed25519 does not accept the example bundle"
	jq_is "$W/inspect.json" '[.keyslots[].key_id] | join(" ")' "fallback-1 main-2026 rotation-2027"
	[ "$(opened_slot "$out" "$ex/rotation-2027.key")" = 2 ] || fail "rotation-2027 does not open slot 2"
}

# SIGTERM to the script (a CI job cancelled) reaches create: status 143, nothing left.
t_interrupted() {
	local pid i rc
	# A simple command, not a function, so that $! is the script itself.
	"${AS_USER[@]}" env TMPDIR="$W/tmp" MEDIAUPD_BUNDLE="$TOOL" "$SCRIPT" "${COMMON[@]}" \
		--keys-dir "$W/keys" --pbkdf argon2id --output "$W/refuse/refused.enc" \
		>"$W/term.log" 2>&1 &
	pid=$!
	for i in $(seq 1 600); do
		if [ -e "$W/refuse/refused.enc.partial" ]; then
			break
		fi
		sleep 0.05
	done
	[ -e "$W/refuse/refused.enc.partial" ] || fail "the run never started its output"
	kill -TERM "$pid"
	wait "$pid" && rc=0 || rc=$?
	cat "$W/term.log"
	[ "$rc" = 143 ] || fail "exit status $rc after SIGTERM, expected 143"
	check_nothing_left "$W/refuse/refused.enc"
}

common_args() {
	printf '%s\n' --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret"
}

# Failures of create come back as exit status 1 with its message, and nothing is left.
t_refuse_failures() {
	as_user bash -c "head -c 31 /dev/urandom >'$W/short.key'"
	refused 1 "31 bytes" "${COMMON[@]}" --key "short=$W/short.key"
	refused 1 "os/x86_64/nope" --repo "$W/repo" --ref os/x86_64/nope --from "$V1" \
		--signing-key "$W/sign.secret" --keys-dir "$W/keys"
	refused 1 "key id '.hidden' is not valid" "${COMMON[@]}" --key ".hidden=$W/keys/main-2026.key"
	refused 1 "key id 'k' is given twice" "${COMMON[@]}" \
		--key "k=$W/keys/main-2026.key" --key "k=$W/keys/fallback-1.key"
	refused 1 "have the same key bytes" "${COMMON[@]}" \
		--key "a=$W/keys/main-2026.key" --key "b=$W/keys/main-2026.key"
	as_user bash -c "echo not-a-key >'$W/bad.secret'"
	refused 1 "signing key" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$W/bad.secret" --keys-dir "$W/keys"
}

# Secrets go in files only: a secret given as the value is refused and not echoed back.
t_refuse_secret_on_cmdline() {
	local secret
	secret=$(cat "$W/sign.secret")
	refused 1 "looks like key material" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$secret" --keys-dir "$W/keys"
	! grep -qF -- "$secret" "$W/refused.log" || fail "the secret was printed"
	secret=$(base64 -w0 <"$W/keys/main-2026.key")
	refused 1 "looks like key material" "${COMMON[@]}" --key "main=$secret"
	! grep -qF -- "$secret" "$W/refused.log" || fail "the key was printed"
}

# Usage errors are create's: exit status 2, the message says what to give.
t_refuse_usage() {
	refused 2 "give --from COMMIT" --repo "$W/repo" --ref "$REF" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys"
	refused 2 "--from and --empty exclude each other" "${COMMON[@]}" --empty --keys-dir "$W/keys"
	refused 2 "unknown --fs 'btrfs'" "${COMMON[@]}" --keys-dir "$W/keys" --fs btrfs
	refused 2 "apply to argon2id only" "${COMMON[@]}" --keys-dir "$W/keys" --pbkdf-memory 1024
	refused 2 "not valid for pbkdf2" "${COMMON[@]}" --keys-dir "$W/keys" --pbkdf-iterations 10
	refused 2 "--key and --keys-dir exclude each other" "${COMMON[@]}" --keys-dir "$W/keys" \
		--key "a=$W/keys/main-2026.key"
	refused 2 "no encryption keys" "${COMMON[@]}"
	refused 2 "no signing key" --repo "$W/repo" --ref "$REF" --from "$V1" --keys-dir "$W/keys"
	refused 2 "--keyslot-room '0' is not valid" "${COMMON[@]}" --keys-dir "$W/keys" \
		--keyslot-room 0
	refused 2 "Unknown option --no-such-option" "${COMMON[@]}" --keys-dir "$W/keys" \
		--no-such-option
}

main() {
	setup
	mapfile -t COMMON < <(common_args)

	check "--help shows the command line and environment, without the tool" t_help
	check "delta with --keys-dir: a v2 bundle inspect --trusted accepts, options in it" t_delta_keys_dir
	check "environment keys, --to, --empty, squashfs, argon2id, two signers, --keyslot-room" t_env_and_options
	check "ext4 inner image with one --key" t_ext4
	check "the tool: beside the script, on \$PATH, MEDIAUPD_BUNDLE; arguments and status passed" t_finds_tool
	check "no mediaupd-bundle, no mkfs.erofs: exit status 1, what to install, nothing left" t_missing_tool
	check "31 keys fit without options; 32 are refused" t_31_keys_and_32
	check "existing output kept without --force (exit 1), replaced with it" t_force
	check "the example keys of keys-example/ make a bundle their trusted key accepts" t_example_keys
	check "SIGTERM mid-way: exit status 143, nothing left behind" t_interrupted
	check "failures of create: exit status 1, its message, nothing left" t_refuse_failures
	check "refused: secret given on the command line, and not echoed" t_refuse_secret_on_cmdline
	check "usage errors: exit status 2, nothing left" t_refuse_usage
	tap_end
}

main "$@"
