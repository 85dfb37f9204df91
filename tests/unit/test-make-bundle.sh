#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# End-to-end test of scripts/make-encrypted-bundle.sh (TAP). The bundle maker runs as an
# unprivileged user (nobody, via setpriv, when the test runs as root) on an OSTree archive
# repository with two commits made here. Each bundle is then read back offline, without
# device-mapper or mounting, and its delta applied with stock ostree.
#
# Environment: MAKE_BUNDLE_SCRIPT (the script), MEDIAUPD_BUNDLE (the built mediaupd-bundle),
# MEDIAUPD_SOURCE_ROOT (for keys-example/; default: two levels above this file).
set -euo pipefail

SCRIPT=${MAKE_BUNDLE_SCRIPT:?set MAKE_BUNDLE_SCRIPT to scripts/make-encrypted-bundle.sh}
TOOL=${MEDIAUPD_BUNDLE:?set MEDIAUPD_BUNDLE to the built mediaupd-bundle}
MEDIAUPD_SOURCE_ROOT=${MEDIAUPD_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
unset MEDIAUPD_SIGNING_KEY_FILE MEDIAUPD_KEYS_DIR
readonly REF=os/x86_64/main

# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/tap-lib.sh"

# --- set-up ---------------------------------------------------------------------------------

# The script and the tool must be reachable by that user; if a parent directory is not,
# use copies inside the work directory.
reachable_copy() {
	local src=$1 dst=$2
	if as_user test -x "$src"; then
		printf '%s' "$src"
	else
		cp -- "$src" "$dst" && chmod 0755 "$dst"
		chown "$(stat -c %u:%g "$W")" "$dst"
		printf '%s' "$dst"
	fi
}

setup() {
	W=$(mktemp -d /tmp/mu-test-make-bundle.XXXXXXXX)
	trap 'rm -rf -- "$W"' EXIT
	if [ "$(id -u)" = 0 ]; then
		chown "$NOBODY:$NOBODY" "$W"
	fi
	chmod 0700 "$W"
	as_user mkdir -p "$W/bin" "$W/tmp" "$W/out" "$W/refuse" "$W/keys"
	SCRIPT=$(reachable_copy "$SCRIPT" "$W/bin/make-encrypted-bundle.sh")
	TOOL=$(reachable_copy "$TOOL" "$W/bin/mediaupd-bundle")
	make_repo
	make_keys
}

write_tree() {
	local dir=$1 version=$2 i
	mkdir -p "$dir/usr/bin" "$dir/usr/share/doc" "$dir/etc"
	head -c 200000 /dev/urandom >"$dir/usr/bin/tool"
	for i in $(seq 1 30); do
		seq "$i" $((i * 200)) >"$dir/usr/share/doc/file-$i.txt"
	done
	mkdir -p "$dir/usr/lib"
	printf 'NAME=TestOS\nPRETTY_NAME="TestOS %s"\nVERSION=%s\n' "$version" "$version" \
		>"$dir/usr/lib/os-release"
	ln -s ../usr/bin/tool "$dir/etc/tool-link"
}

make_repo() {
	as_user ostree init --repo="$W/repo" --mode=archive
	as_user mkdir -p "$W/tree"
	as_user bash -c "$(declare -f write_tree); write_tree '$W/tree' 1.0"
	as_user ostree commit --repo="$W/repo" --branch="$REF" --tree=dir="$W/tree" \
		--subject=v1 --add-metadata-string=version=1.0 >/dev/null
	# Version 2: one file changed, one added, some removed, a text file edited, and a file
	# above ostree's default fallback threshold (4 MB), which must still go into the parts.
	as_user bash -c "head -c 100000 /dev/urandom >'$W/tree/usr/bin/new-tool' &&
		head -c 4100000 /dev/zero >'$W/tree/usr/bin/large' &&
		rm -f '$W'/tree/usr/share/doc/file-1*.txt && seq 1 5000 >'$W/tree/usr/share/doc/file-2.txt'"
	printf 'NAME=TestOS\nPRETTY_NAME="TestOS 2.0"\n' | as_user tee "$W/tree/usr/lib/os-release" >/dev/null
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
	as_user "$TOOL" keygen --luks "$W/wrong.key" >/dev/null
	as_user "$TOOL" keygen --signing "$W/sign" >/dev/null
	as_user "$TOOL" keygen --signing "$W/other" >/dev/null
	as_user "$TOOL" keygen --signing "$W/stranger" >/dev/null
	# --keys-dir takes keys in name order: fallback-1, main-2026, rotation-2027.
	KEY_IDS=(fallback-1 main-2026 rotation-2027)
}

# make_bundle ARGS...: runs the bundle maker as the unprivileged user with a private TMPDIR.
make_bundle() {
	as_user env TMPDIR="$W/tmp" MEDIAUPD_BUNDLE="$TOOL" "$SCRIPT" "$@"
}

# timed_make_bundle LABEL ARGS...: runs the bundle maker and records how long it took.
timed_make_bundle() {
	local label=$1 t0=${EPOCHREALTIME/./} us
	shift
	make_bundle "$@"
	us=$((${EPOCHREALTIME/./} - t0))
	printf '%s %d.%03d s\n' "$label" $((us / 1000000)) $((us % 1000000 / 1000)) >>"$W/times"
}

# --- bundle inspection ----------------------------------------------------------------------

# Prints a python3 expression's value over the bundle's LUKS2 JSON metadata (bound to m).
luks_json() {
	local bundle=$1 expr=$2
	cryptsetup luksDump --dump-json-metadata --disable-locks "$bundle" |
		python3 -c "import json, sys; m = json.load(sys.stdin); print($expr)"
}

# Prints the keyslot that the project's own libcryptsetup code opens with KEY, or fails.
opened_slot() {
	local out
	out=$("$TOOL" inspect --key "$2" --json "$1") || return 1
	python3 -c 'import json, sys; k = json.load(sys.stdin)["key"]; assert k["opened"]; print(k["slot"])' <<<"$out"
}

# read_back BUNDLE KEY FS DIR: decrypts BUNDLE offline in userspace, no device-mapper
# (dump the volume key, copy the data segment, format a detached header with that volume
# key, decrypt in place), keeps the image as DIR.img and extracts it into DIR without
# mounting it.
read_back() {
	local bundle=$1 key=$2 fs=$3 dir=$4 rb offset
	rb=$(mktemp -d "$W/readback.XXXXXX")
	cryptsetup luksDump --dump-volume-key --volume-key-file "$rb/vk" --key-file "$key" \
		--batch-mode --disable-locks "$bundle" >/dev/null
	offset=$(luks_json "$bundle" 'm["segments"]["0"]["offset"]')
	tail -c +$((offset + 1)) "$bundle" >"$rb/image"
	cryptsetup luksFormat --type luks2 --header "$rb/header" --volume-key-file "$rb/vk" \
		--cipher aes-xts-plain64 --key-size 512 --sector-size 4096 --pbkdf pbkdf2 \
		--pbkdf-force-iterations 1000 --key-file "$key" --batch-mode --disable-locks "$rb/image"
	cryptsetup reencrypt --decrypt --header "$rb/header" --key-file "$key" \
		--force-offline-reencrypt --batch-mode --disable-locks "$rb/image" >/dev/null
	case $fs in
	erofs) fsck.erofs --extract="$dir" "$rb/image" >/dev/null ;;
	squashfs) unsquashfs -no-progress -d "$dir" "$rb/image" >/dev/null ;;
	ext4)
		mkdir -p "$dir"
		debugfs -R "rdump / $dir" "$rb/image" >/dev/null 2>&1
		rmdir "$dir/lost+found" 2>/dev/null || true
		;;
	esac
	mv -- "$rb/image" "$dir.img"
	rm -rf -- "$rb"
}

# apply_delta DELTA_DIR FROM_COMMIT|"" TO_COMMIT: stock ostree applies the delta into a fresh
# repository holding only FROM_COMMIT (or nothing) and must then hold TO_COMMIT, complete.
apply_delta() {
	local delta=$1 from=$2 to=$3 repo
	repo=$(mktemp -d "$W/apply.XXXXXX")
	ostree init --repo="$repo" --mode=bare-user
	if [ -n "$from" ]; then
		ostree pull-local --repo="$repo" "$W/repo" "$from" >/dev/null
	fi
	if ostree show --repo="$repo" "$to" >/dev/null 2>&1; then
		fail "the target commit is in the repository before applying"
	fi
	ostree static-delta apply-offline --repo="$repo" "$delta" ||
		fail "stock ostree static-delta apply-offline refused the delta"
	ostree show --repo="$repo" "$to" >/dev/null || fail "commit $to missing after applying"
	ostree ls --repo="$repo" -R "$to" >/dev/null || fail "commit $to is incomplete"
	ostree fsck --repo="$repo" >/dev/null || fail "ostree fsck failed after applying"
	rm -rf -- "$repo"
}

# The bundle, read back, holds a verifying delta and a manifest naming the commits.
check_contents() {
	local dir=$1 from=$2 to=$3
	[ -f "$dir/delta/superblock" ] || fail "no delta/superblock in the image"
	[ -f "$dir/delta/0" ] || fail "no delta part delta/0 in the image"
	[ -f "$dir/manifest" ] || fail "no manifest in the image"
	grep -qx "to-commit=$to" "$dir/manifest" || fail "manifest does not name the to-commit"
	grep -qx "from-commit=$from" "$dir/manifest" || fail "manifest does not name the from-commit"
	grep -qx "os=TestOS [12].0" "$dir/manifest" || fail "manifest does not name the OS"
	head -c 8 "$dir/delta/superblock" | grep -q '^OSTSGNDT' || fail "superblock is not a signed envelope"
	"$TOOL" verify --trusted "$W/sign.pub" "$dir/delta/superblock" ||
		fail "mediaupd-bundle verify refused the signed superblock"
	if "$TOOL" verify --trusted "$W/stranger.pub" "$dir/delta/superblock"; then
		fail "the superblock verified with a key that did not sign it"
	fi
	apply_delta "$dir/delta" "$from" "$to"
}

# No bundle, no temporary file beside it, nothing in TMPDIR.
check_nothing_left() {
	local out=$1 left
	[ ! -e "$out" ] || fail "'$out' was written although the run failed"
	left=$(find "$W/refuse" "$W/tmp" -mindepth 1 ! -name 'existing.enc' | head -n 5)
	[ -z "$left" ] || fail "left behind: $left"
}

# refused EXPECTED_MESSAGE ARGS...: the run fails, says EXPECTED_MESSAGE, leaves nothing.
refused() {
	local expect=$1 out=$W/refuse/refused.enc
	shift
	if make_bundle --output "$out" "$@" >"$W/refused.log" 2>&1; then
		cat "$W/refused.log"
		fail "the bundle maker accepted it"
	fi
	cat "$W/refused.log"
	grep -q -- "$expect" "$W/refused.log" || fail "the message does not say '$expect'"
	grep -q 'hint: ' "$W/refused.log" || fail "the message does not say what to do"
	check_nothing_left "$out"
}

# --- test cases -----------------------------------------------------------------------------

KEYS_DIR_ARGS=()

t_help() {
	make_bundle --help | grep -q -- '--signing-key FILE'
}

t_delta_bundle() {
	local out=$W/out/delta.enc uid
	uid=$(as_user id -u)
	[ "$uid" != 0 ] || fail "the bundle maker would run as root"
	timed_make_bundle "delta-erofs-3keys" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$W/sign.secret" "${KEYS_DIR_ARGS[@]}" --output "$out" | tee "$W/summary"
	[ -f "$out" ] || fail "no bundle written"
	grep -q "^Keyslots: *3:" "$W/summary" || fail "summary does not list 3 keyslots"
	[ "$(wc -l <"$W/summary")" -le 24 ] || fail "the summary is longer than one screen"
}

t_luks_header() {
	local b=$W/out/delta.enc i
	[ "$(luks_json "$b" 'len(m["keyslots"])')" = 3 ] || fail "not 3 keyslots"
	[ "$(luks_json "$b" 'len(m["tokens"])')" = 3 ] || fail "not 3 tokens"
	[ "$(luks_json "$b" 'int(m["config"]["keyslots_size"]) >= 3 * 258048')" = True ] ||
		fail "keyslots area too small"
	cryptsetup luksDump --disable-locks "$b" | grep -qx 'Label:[[:space:]]*mediaupd-bundle' ||
		fail "wrong label"
	cryptsetup luksDump --disable-locks "$b" | grep -qx 'Subsystem:[[:space:]]*mediaupd-v1' ||
		fail "wrong subsystem"
	[ "$(luks_json "$b" 'm["segments"]["0"]["encryption"], m["segments"]["0"]["sector_size"]')" = \
		"aes-xts-plain64 4096" ] || fail "wrong cipher or sector size"
	for i in 0 1 2; do
		[ "$(luks_json "$b" "m['keyslots']['$i']['kdf']['type'], m['keyslots']['$i']['kdf']['iterations'], m['keyslots']['$i']['key_size']")" = \
			"pbkdf2 1000 64" ] || fail "keyslot $i: not pbkdf2 with 1000 iterations and a 512-bit key"
		[ "$(luks_json "$b" "m['tokens']['$i']['type'], m['tokens']['$i']['keyslots'], m['tokens']['$i']['key_id']")" = \
			"mediaupd-keyid ['$i'] ${KEY_IDS[$i]}" ] ||
			fail "token $i does not map keyslot $i to key id ${KEY_IDS[$i]}"
	done
}

t_keys_open_own_slot() {
	local b=$W/out/delta.enc i s slot
	for i in 0 1 2; do
		slot=$(opened_slot "$b" "$W/keys/${KEY_IDS[$i]}.key") || fail "key ${KEY_IDS[$i]} opens nothing"
		[ "$slot" = "$i" ] || fail "key ${KEY_IDS[$i]} opens slot $slot, not $i"
		# And no other slot (checked slot by slot with the cryptsetup command line).
		for s in 0 1 2; do
			if cryptsetup open --test-passphrase --disable-locks --key-slot "$s" \
				--key-file "$W/keys/${KEY_IDS[$i]}.key" "$b" 2>/dev/null; then
				[ "$s" = "$i" ] || fail "key ${KEY_IDS[$i]} also opens slot $s"
			else
				[ "$s" != "$i" ] || fail "cryptsetup: key ${KEY_IDS[$i]} does not open slot $s"
			fi
		done
	done
}

t_wrong_key() {
	local b=$W/out/delta.enc
	if opened_slot "$b" "$W/wrong.key"; then
		fail "a key that is not in the bundle opened a slot"
	fi
	if cryptsetup open --test-passphrase --disable-locks --key-file "$W/wrong.key" "$b"; then
		fail "cryptsetup opened the bundle with a key that is not in it"
	fi
}

t_delta_read_back() {
	read_back "$W/out/delta.enc" "$W/keys/rotation-2027.key" erofs "$W/rb-delta"
	check_contents "$W/rb-delta" "$V1" "$V2"
}

# The GitLab way: key paths from file variables, squashfs, a full update.
t_full_bundle_squashfs() {
	local out=$W/out/full.enc
	MEDIAUPD_SIGNING_KEY_FILE="$W/sign.secret" MEDIAUPD_KEYS_DIR="$W/keys" \
		timed_make_bundle "full-squashfs-3keys" --repo "$W/repo" --ref "$REF" --empty \
		--fs squashfs --output "$out"
	read_back "$out" "$W/keys/main-2026.key" squashfs "$W/rb-full"
	check_contents "$W/rb-full" "" "$V2"
}

t_ext4_bundle() {
	local out=$W/out/ext4.enc f
	timed_make_bundle "delta-ext4-1key" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$W/sign.secret" --key "only=$W/keys/main-2026.key" --fs ext4 --output "$out"
	[ "$(luks_json "$out" 'len(m["keyslots"]), len(m["tokens"])')" = "1 1" ] ||
		fail "not one keyslot and one token"
	read_back "$out" "$W/keys/main-2026.key" ext4 "$W/rb-ext4"
	check_contents "$W/rb-ext4" "$V1" "$V2"
	# mke2fs -d copies the builder's uid; the bundle maker makes every file root's.
	for f in /manifest /delta /delta/superblock /delta/0; do
		debugfs -R "stat $f" "$W/rb-ext4.img" 2>/dev/null | grep -q '^User: *0 *Group: *0 ' ||
			fail "$f in the ext4 image is not owned by root"
	done
}

t_argon2id() {
	local out=$W/out/argon2id.enc
	timed_make_bundle "full-erofs-argon2id-2keys" --repo "$W/repo" --ref "$REF" --to "$V1" --empty \
		--signing-key "$W/sign.secret" --signing-key "$W/other.secret" \
		--key "a=$W/keys/main-2026.key" --key "b=$W/keys/fallback-1.key" \
		--pbkdf argon2id --pbkdf-memory 32768 --pbkdf-iterations 4 --pbkdf-parallel 1 \
		--output "$out"
	[ "$(luks_json "$out" "[(k['kdf']['type'], k['kdf']['memory'], k['kdf']['time'], k['kdf']['cpus']) for k in m['keyslots'].values()]")" = \
		"[('argon2id', 32768, 4, 1), ('argon2id', 32768, 4, 1)]" ] || fail "keyslots do not use the argon2id parameters given"
	[ "$(opened_slot "$out" "$W/keys/fallback-1.key")" = 1 ] || fail "key b does not open slot 1"
	read_back "$out" "$W/keys/main-2026.key" erofs "$W/rb-argon"
	# Signed by both keys: each one alone verifies.
	"$TOOL" verify --trusted "$W/other.pub" "$W/rb-argon/delta/superblock" ||
		fail "the second signature does not verify"
	check_contents "$W/rb-argon" "" "$V1"
}

t_32_keys_and_33() {
	local out=$W/out/many.enc i args=()
	as_user mkdir -p "$W/many"
	for i in $(seq -w 1 33); do
		as_user "$TOOL" keygen --luks "$W/many/k$i.key" >/dev/null
	done
	for i in $(seq -w 1 32); do
		args+=(--key "k$i=$W/many/k$i.key")
	done
	timed_make_bundle "delta-erofs-32keys" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$W/sign.secret" "${args[@]}" --output "$out" >/dev/null
	[ "$(luks_json "$out" 'len(m["keyslots"]), len(m["tokens"])')" = "32 32" ] ||
		fail "not 32 keyslots and 32 tokens"
	[ "$(opened_slot "$out" "$W/many/k32.key")" = 31 ] || fail "the 32nd key does not open slot 31"
	refused "33 encryption keys given, a bundle holds at most 32" --repo "$W/repo" --ref "$REF" \
		--from "$V1" --signing-key "$W/sign.secret" --keys-dir "$W/many"
}

t_force() {
	local out=$W/refuse/existing.enc
	as_user bash -c "echo old >'$out'"
	if make_bundle --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys" --output "$out" >"$W/force.log" 2>&1; then
		fail "an existing output was overwritten without --force"
	fi
	cat "$W/force.log"
	grep -q "exists already" "$W/force.log" || fail "the message does not say the output exists"
	[ "$(cat "$out")" = old ] || fail "the existing output was changed"
	check_nothing_left "$W/refuse/none"
	make_bundle --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys" --output "$out" --force >/dev/null
	[ "$(luks_json "$out" 'len(m["keyslots"])')" = 3 ] || fail "--force did not replace the output"
	rm -f "$out"
}

# The demo of keys-example/README.md works: its keys make a bundle that its trusted key verifies.
t_example_keys() {
	local ex=$W/keys-example out=$W/out/example.enc
	cp -r "$MEDIAUPD_SOURCE_ROOT/keys-example" "$ex"
	chown -R "$(stat -c %u:%g "$W")" "$ex"
	make_bundle --repo "$W/repo" --ref "$REF" --empty --signing-key "$ex/example-signing.secret" \
		--keys-dir "$ex" --output "$out" >/dev/null
	[ "$(luks_json "$out" "[t['key_id'] for t in m['tokens'].values()]")" = \
		"['fallback-1', 'main-2026', 'rotation-2027']" ] || fail "not the three example key ids"
	[ "$(opened_slot "$out" "$ex/rotation-2027.key")" = 2 ] || fail "rotation-2027 does not open slot 2"
	read_back "$out" "$ex/main-2026.key" erofs "$W/rb-example"
	"$TOOL" verify --trusted "$ex/trusted.ed25519" "$W/rb-example/delta/superblock" ||
		fail "keys-example/trusted.ed25519 does not verify the example signature"
}

# Control for the apply checks above: with ostree's default --min-fallback-size the large file
# becomes a fallback object, and stock apply-offline refuses such a delta. So a bundle that
# applies has no fallback objects.
t_fallback_control() {
	local d=$W/fallback-control repo
	mkdir -p "$d/delta"
	ostree --repo="$W/repo" static-delta generate --from="$V1" --to="$V2" \
		--filename="$d/delta/superblock" >/dev/null
	repo=$(mktemp -d "$W/apply.XXXXXX")
	ostree init --repo="$repo" --mode=bare-user
	ostree pull-local --repo="$repo" "$W/repo" "$V1" >/dev/null
	if ostree static-delta apply-offline --repo="$repo" "$d/delta" 2>"$d/err"; then
		fail "a delta with ostree's default fallback size applied offline"
	fi
	cat "$d/err"
	grep -q "fallback" "$d/err" || fail "refused for another reason than fallback objects"
}

# SIGTERM in the middle of a run (CI job cancelled): nothing is left behind.
t_interrupted() {
	local pid i rc
	# A simple command, not a function, so that $! is the script itself.
	"${AS_USER[@]}" env TMPDIR="$W/tmp" MEDIAUPD_BUNDLE="$TOOL" "$SCRIPT" "${COMMON[@]}" \
		--keys-dir "$W/keys" --pbkdf argon2id --output "$W/refuse/refused.enc" \
		>"$W/term.log" 2>&1 &
	pid=$!
	for i in $(seq 1 600); do
		if compgen -G "$W/refuse/.refused.enc.*" >/dev/null; then
			break
		fi
		sleep 0.05
	done
	compgen -G "$W/refuse/.refused.enc.*" >/dev/null || fail "the run never started its output"
	kill -TERM "$pid"
	wait "$pid" && rc=0 || rc=$?
	cat "$W/term.log"
	[ "$rc" = 143 ] || fail "exit status $rc after SIGTERM, expected 143"
	check_nothing_left "$W/refuse/refused.enc"
}

common_args() {
	printf '%s\n' --repo "$W/repo" --ref "$REF" --from "$V1" --signing-key "$W/sign.secret"
}

t_refuse_short_key() {
	as_user bash -c "head -c 31 /dev/urandom >'$W/short.key'"
	refused "holds 31 bytes, fewer than 32" "${COMMON[@]}" --key "short=$W/short.key"
}

t_refuse_unknown_ref() {
	refused "ref 'os/x86_64/nope' is not in the repository" --repo "$W/repo" --ref os/x86_64/nope \
		--from "$V1" --signing-key "$W/sign.secret" --keys-dir "$W/keys"
}

t_refuse_missing_from() {
	local missing
	missing=$(printf '%s' "$V1" | sha256sum | cut -c1-64)
	refused "the --from commit '$missing' is not in the repository" --repo "$W/repo" --ref "$REF" \
		--from "$missing" --signing-key "$W/sign.secret" --keys-dir "$W/keys"
}

t_refuse_bad_key_ids() {
	local id
	for id in .hidden 'a b' 'a/b' "$(printf 'x%.0s' $(seq 1 65))" '' 'ü'; do
		refused "key id '$id' (--key) is not valid" "${COMMON[@]}" --key "$id=$W/keys/main-2026.key"
	done
}

t_refuse_duplicate_key_id() {
	refused "key id 'k' is given twice" "${COMMON[@]}" \
		--key "k=$W/keys/main-2026.key" --key "k=$W/keys/fallback-1.key"
}

t_refuse_same_key_twice() {
	refused "have the same key bytes" "${COMMON[@]}" \
		--key "a=$W/keys/main-2026.key" --key "b=$W/keys/main-2026.key"
}

# Secrets go in files only: a secret given as the value is refused and not echoed back.
t_refuse_secret_on_cmdline() {
	local secret
	secret=$(cat "$W/sign.secret")
	refused "looks like key material" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$secret" --keys-dir "$W/keys"
	if grep -qF -- "$secret" "$W/refused.log"; then
		fail "the secret was printed"
	fi
	secret=$(base64 -w0 <"$W/keys/main-2026.key")
	refused "looks like key material" "${COMMON[@]}" --key "main=$secret"
	if grep -qF -- "$secret" "$W/refused.log"; then
		fail "the key was printed"
	fi
}

t_refuse_bad_signing_key() {
	as_user bash -c "echo not-a-key >'$W/bad.secret'"
	refused "is not an ed25519 secret key" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$W/bad.secret" --keys-dir "$W/keys"
}

# A failure late in the run (the signer refuses a key whose halves do not match) leaves
# nothing behind either.
t_refuse_late_failure() {
	as_user bash -c "{ head -c 32 /dev/urandom; base64 -d '$W/sign.pub'; } | base64 -w0 >'$W/mismatch.secret'"
	refused "signing the delta superblock failed" --repo "$W/repo" --ref "$REF" --from "$V1" \
		--signing-key "$W/mismatch.secret" --keys-dir "$W/keys"
}

t_refuse_missing_tool() {
	if as_user env TMPDIR="$W/tmp" MEDIAUPD_BUNDLE="$W/nonexistent" "$SCRIPT" "${COMMON[@]}" \
		--keys-dir "$W/keys" --output "$W/refuse/x.enc" >"$W/tool.log" 2>&1; then
		fail "ran without mediaupd-bundle"
	fi
	grep -q "is not an executable file" "$W/tool.log" || fail "no clear message for a missing tool"
	# A PATH without mkfs.erofs.
	local d=$W/path
	mkdir -p "$d"
	find /usr/bin /usr/sbin -maxdepth 1 \( -type f -o -type l \) ! -name mkfs.erofs \
		-exec ln -sf -t "$d" {} +
	if as_user env PATH="$d" TMPDIR="$W/tmp" MEDIAUPD_BUNDLE="$TOOL" "$SCRIPT" "${COMMON[@]}" \
		--keys-dir "$W/keys" --output "$W/refuse/x.enc" >"$W/tool.log" 2>&1; then
		fail "ran without mkfs.erofs"
	fi
	cat "$W/tool.log"
	grep -q "the tool 'mkfs.erofs' is missing" "$W/tool.log" || fail "no clear message for mkfs.erofs"
	grep -q "apt-get install erofs-utils" "$W/tool.log" || fail "does not say which package to install"
	check_nothing_left "$W/refuse/x.enc"
}

t_refuse_usage() {
	refused "give --from COMMIT" --repo "$W/repo" --ref "$REF" --signing-key "$W/sign.secret" \
		--keys-dir "$W/keys"
	refused "--from and --empty exclude each other" "${COMMON[@]}" --empty --keys-dir "$W/keys"
	refused "unknown --fs 'btrfs'" "${COMMON[@]}" --keys-dir "$W/keys" --fs btrfs
	refused "apply to argon2id only" "${COMMON[@]}" --keys-dir "$W/keys" --pbkdf-memory 1024
	refused "not valid for pbkdf2" "${COMMON[@]}" --keys-dir "$W/keys" --pbkdf-iterations 10
}

main() {
	setup
	mapfile -t COMMON < <(common_args)
	KEYS_DIR_ARGS=(--keys-dir "$W/keys")

	check "--help describes the options" t_help
	check "delta bundle built as an unprivileged user" t_delta_bundle
	check "LUKS2 header: label, subsystem, cipher, 3 keyslots with pbkdf2-1000, one key-id token each" t_luks_header
	check "each key opens its own keyslot and no other" t_keys_open_own_slot
	check "a key not in the bundle opens nothing" t_wrong_key
	check "delta bundle read back offline: signature verifies, stock ostree applies it" t_delta_read_back
	check "full squashfs bundle from CI file variables, applied into an empty repository" t_full_bundle_squashfs
	check "ext4 bundle with one key, read back and applied" t_ext4_bundle
	check "the example keys of keys-example/ make a working bundle" t_example_keys
	check "control: a delta with fallback objects does not apply offline" t_fallback_control
	check "argon2id parameters, --to, two signing keys" t_argon2id
	check "32 keys fit; 33 are refused" t_32_keys_and_33
	check "existing output kept without --force, replaced with it" t_force
	check "terminated mid-way: nothing left behind" t_interrupted
	check "refused: key shorter than 32 bytes" t_refuse_short_key
	check "refused: unknown ref" t_refuse_unknown_ref
	check "refused: --from commit not in the repository" t_refuse_missing_from
	check "refused: bad key ids" t_refuse_bad_key_ids
	check "refused: duplicate key id" t_refuse_duplicate_key_id
	check "refused: the same key under two ids" t_refuse_same_key_twice
	check "refused: secret given on the command line, and not echoed" t_refuse_secret_on_cmdline
	check "refused: malformed signing key" t_refuse_bad_signing_key
	check "refused late (signer rejects the key): nothing left behind" t_refuse_late_failure
	check "refused: missing tools" t_refuse_missing_tool
	check "refused: bad option combinations" t_refuse_usage

	if [ -f "$W/times" ]; then
		diag "bundle maker wall times:" "$(tr '\n' ' ' <"$W/times")"
	fi
	echo "1..$TESTS_RUN"
	[ "$TESTS_FAILED" = 0 ]
}

main "$@"
