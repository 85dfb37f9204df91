#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make-v1-bundle.sh: LEGACY FORMAT 1, TESTS ONLY. Builds a mediaupd bundle of format 1
# ("Format 1 (legacy)" in docs/bundle-format.md) from an OSTree repository, unprivileged, for
# the tests that are about format 1: the format gate ([Bundle] Formats=) and the v1 install
# path. It is the bundle maker as it was before format 2, trimmed to building the bundle and
# checking its LUKS2 header. Bundles for devices come from `mediaupd-bundle create`
# (scripts/make-encrypted-bundle.sh wraps it).
#
#   make-v1-bundle.sh --repo REPO --ref REF [--to COMMIT] (--from COMMIT | --empty)
#       --signing-key FILE [--signing-key FILE ...] (--key ID=FILE [...] | --keys-dir DIR)
#       [--output FILE] [--force] [--fs squashfs|erofs|ext4]
#       [--pbkdf pbkdf2|argon2id] [--pbkdf-iterations N] [--pbkdf-memory KIB] [--pbkdf-parallel N]
#
# MEDIAUPD_BUNDLE: the built mediaupd-bundle (it signs the delta); else next to this script,
# then $PATH.
set -euo pipefail
export LC_ALL=C

readonly PROG=make-v1-bundle.sh
readonly TOOL_VERSION=0.1.0

# Format v1 constants; the same values as daemon/engine/mu-bundle-format.h.
readonly FORMAT_VERSION=1
readonly LUKS_LABEL=mediaupd-bundle
readonly LUKS_SUBSYSTEM=mediaupd-v1
readonly TOKEN_TYPE=mediaupd-keyid
readonly DEFAULT_OUTPUT=static-update.bundle.enc
readonly MAX_KEYS=32
readonly KEY_MIN_LEN=32
readonly KEY_MAX_LEN=512

# LUKS2 geometry. A keyslot for a 512-bit volume key with 4000 anti-forensic stripes takes
# 258048 bytes (63 x 4 KiB) whatever the PBKDF; the keyslots area holds one per key plus
# 4 KiB that `cryptsetup reencrypt` needs for its own temporary keyslot while encrypting.
readonly CIPHER=aes-xts-plain64
readonly KEY_BITS=512
readonly SECTOR_SIZE=4096
readonly METADATA_SIZE=16384
readonly KEYSLOT_SIZE=258048
readonly REENCRYPT_SLOT_ROOM=4096

# --- messages -------------------------------------------------------------------------------

# Progress on stderr, with the time since the start.
step() {
	printf '%s: [%6s s] %s\n' "$PROG" "$(elapsed)" "$*" >&2
}

# die WHAT [WHAT-TO-DO]: says what is wrong and what to do about it, then exits 1.
die() {
	printf '%s: error: %s\n' "$PROG" "$1" >&2
	if [ $# -gt 1 ] && [ -n "$2" ]; then
		printf '%s: hint: %s\n' "$PROG" "$2" >&2
	fi
	exit 1
}

usage_error() {
	die "$1" "see the usage at the top of $PROG"
}

# run WHAT CMD...: runs CMD with its output kept in a log; on failure shows the log and dies.
run() {
	local what=$1
	shift
	local logf="$WORK/cmd.log"
	if ! "$@" >"$logf" 2>&1; then
		sed -e 's/^/    /' "$logf" | tail -n 20 >&2
		die "$what failed (command: $1)" "${RUN_HINT:-read the messages above}"
	fi
}

# --- arguments ------------------------------------------------------------------------------

REPO=
REF=
TO=
FROM=
EMPTY=0
OUTPUT=
FORCE=0
FS=erofs
PBKDF=pbkdf2
PBKDF_ITERATIONS=
PBKDF_MEMORY=
PBKDF_PARALLEL=
KEYS_DIR=
SIGNING_KEYS=()
KEY_SPECS=()

need_value() {
	if [ "$2" -lt 2 ]; then
		usage_error "option $1 needs a value"
	fi
}

is_uint() {
	[[ $1 =~ ^[0-9]+$ ]] && [ "${#1}" -le 9 ]
}

parse_args() {
	while [ $# -gt 0 ]; do
		local opt=$1 val=
		case $opt in
		--*=*)
			val=${opt#*=}
			opt=${opt%%=*}
			set -- "$opt" "$val" "${@:2}"
			;;
		esac
		case $opt in
		--repo) need_value "$opt" $# && REPO=$2 && shift ;;
		--ref) need_value "$opt" $# && REF=$2 && shift ;;
		--to) need_value "$opt" $# && TO=$2 && shift ;;
		--from) need_value "$opt" $# && FROM=$2 && shift ;;
		--empty) EMPTY=1 ;;
		--signing-key) need_value "$opt" $# && SIGNING_KEYS+=("$2") && shift ;;
		--key) need_value "$opt" $# && KEY_SPECS+=("$2") && shift ;;
		--keys-dir) need_value "$opt" $# && KEYS_DIR=$2 && shift ;;
		--output) need_value "$opt" $# && OUTPUT=$2 && shift ;;
		--force) FORCE=1 ;;
		--fs) need_value "$opt" $# && FS=$2 && shift ;;
		--pbkdf) need_value "$opt" $# && PBKDF=$2 && shift ;;
		--pbkdf-iterations) need_value "$opt" $# && PBKDF_ITERATIONS=$2 && shift ;;
		--pbkdf-memory) need_value "$opt" $# && PBKDF_MEMORY=$2 && shift ;;
		--pbkdf-parallel) need_value "$opt" $# && PBKDF_PARALLEL=$2 && shift ;;
		*) usage_error "unknown argument '$opt'" ;;
		esac
		shift
	done
}

check_args() {
	[ -n "$REPO" ] || usage_error "--repo REPO is required"
	[ -n "$REF" ] || usage_error "--ref REF is required"
	if [ "$EMPTY" = 1 ] && [ -n "$FROM" ]; then
		usage_error "--from and --empty exclude each other: give --from COMMIT for a delta, or --empty for a full update"
	fi
	if [ "$EMPTY" = 0 ] && [ -z "$FROM" ]; then
		usage_error "give --from COMMIT (a delta from the commit the devices run) or --empty (a full update)"
	fi
	case $FS in
	erofs | squashfs | ext4) ;;
	*) usage_error "unknown --fs '$FS': use erofs, squashfs or ext4" ;;
	esac
	check_pbkdf_args
	if [ ${#SIGNING_KEYS[@]} -eq 0 ]; then
		if [ -n "${MEDIAUPD_SIGNING_KEY_FILE:-}" ]; then
			SIGNING_KEYS=("$MEDIAUPD_SIGNING_KEY_FILE")
		else
			usage_error "no signing key: give --signing-key FILE or set MEDIAUPD_SIGNING_KEY_FILE to a file path"
		fi
	fi
	if [ ${#KEY_SPECS[@]} -gt 0 ] && [ -n "$KEYS_DIR" ]; then
		usage_error "--key and --keys-dir exclude each other: use one way to name the encryption keys"
	fi
	if [ ${#KEY_SPECS[@]} -eq 0 ] && [ -z "$KEYS_DIR" ]; then
		if [ -n "${MEDIAUPD_KEYS_DIR:-}" ]; then
			KEYS_DIR=$MEDIAUPD_KEYS_DIR
		else
			usage_error "no encryption keys: give --key ID=FILE, --keys-dir DIR or set MEDIAUPD_KEYS_DIR"
		fi
	fi
	OUTPUT=${OUTPUT:-$DEFAULT_OUTPUT}
}

check_pbkdf_args() {
	case $PBKDF in
	pbkdf2)
		PBKDF_ITERATIONS=${PBKDF_ITERATIONS:-1000}
		if [ -n "$PBKDF_MEMORY" ] || [ -n "$PBKDF_PARALLEL" ]; then
			usage_error "--pbkdf-memory and --pbkdf-parallel apply to argon2id only: add --pbkdf argon2id or drop them"
		fi
		{ is_uint "$PBKDF_ITERATIONS" && [ "$PBKDF_ITERATIONS" -ge 1000 ]; } ||
			usage_error "--pbkdf-iterations '$PBKDF_ITERATIONS' is not valid for pbkdf2: give a number >= 1000 (LUKS2 minimum)"
		PBKDF_OPTS=(--pbkdf pbkdf2 --hash sha256 --pbkdf-force-iterations "$PBKDF_ITERATIONS")
		PBKDF_TEXT="pbkdf2-sha256, $PBKDF_ITERATIONS iterations"
		;;
	argon2id)
		PBKDF_ITERATIONS=${PBKDF_ITERATIONS:-4}
		PBKDF_MEMORY=${PBKDF_MEMORY:-65536}
		PBKDF_PARALLEL=${PBKDF_PARALLEL:-1}
		{ is_uint "$PBKDF_ITERATIONS" && [ "$PBKDF_ITERATIONS" -ge 4 ]; } ||
			usage_error "--pbkdf-iterations '$PBKDF_ITERATIONS' is not valid for argon2id: give a time cost >= 4"
		{ is_uint "$PBKDF_MEMORY" && [ "$PBKDF_MEMORY" -ge 32 ] && [ "$PBKDF_MEMORY" -le 4194304 ]; } ||
			usage_error "--pbkdf-memory '$PBKDF_MEMORY' is not valid: give KiB between 32 and 4194304, within the weakest device's free memory"
		{ is_uint "$PBKDF_PARALLEL" && [ "$PBKDF_PARALLEL" -ge 1 ] && [ "$PBKDF_PARALLEL" -le 16 ]; } ||
			usage_error "--pbkdf-parallel '$PBKDF_PARALLEL' is not valid: give 1..16 (at most the weakest device's CPU count)"
		PBKDF_OPTS=(--pbkdf argon2id --hash sha256 --pbkdf-force-iterations "$PBKDF_ITERATIONS"
			--pbkdf-memory "$PBKDF_MEMORY" --pbkdf-parallel "$PBKDF_PARALLEL")
		PBKDF_TEXT="argon2id, time cost $PBKDF_ITERATIONS, $PBKDF_MEMORY KiB, $PBKDF_PARALLEL thread(s)"
		;;
	*) usage_error "unknown --pbkdf '$PBKDF': use pbkdf2 or argon2id" ;;
	esac
}

# --- tools ----------------------------------------------------------------------------------

need_tool() {
	command -v "$1" >/dev/null 2>&1 ||
		die "the tool '$1' is missing" "install the Debian package $2 (apt-get install $2)"
}

find_bundle_tool() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if [ -n "${MEDIAUPD_BUNDLE:-}" ]; then
		{ [ -x "$MEDIAUPD_BUNDLE" ] && [ -f "$MEDIAUPD_BUNDLE" ]; } ||
			die "MEDIAUPD_BUNDLE='$MEDIAUPD_BUNDLE' is not an executable file" \
				"point MEDIAUPD_BUNDLE at the built mediaupd-bundle, or unset it to search \$PATH"
		BUNDLE_TOOL=$MEDIAUPD_BUNDLE
	elif [ -x "$here/mediaupd-bundle" ]; then
		BUNDLE_TOOL=$here/mediaupd-bundle
	elif command -v mediaupd-bundle >/dev/null 2>&1; then
		BUNDLE_TOOL=$(command -v mediaupd-bundle)
	else
		die "the tool 'mediaupd-bundle' is missing (it signs the delta and checks the bundle)" \
			"install the package mediaupd-tools, or set MEDIAUPD_BUNDLE=/path/to/build/daemon/mediaupd-bundle/mediaupd-bundle"
	fi
}

check_tools() {
	need_tool cryptsetup cryptsetup-bin
	need_tool ostree ostree
	need_tool base64 coreutils
	need_tool sha256sum coreutils
	case $FS in
	erofs)
		need_tool mkfs.erofs erofs-utils
		need_tool fsck.erofs erofs-utils
		;;
	squashfs)
		need_tool mksquashfs squashfs-tools
		need_tool unsquashfs squashfs-tools
		;;
	ext4)
		need_tool mke2fs e2fsprogs
		need_tool resize2fs e2fsprogs
		need_tool debugfs e2fsprogs
		;;
	esac
	find_bundle_tool
}

# --- keys -----------------------------------------------------------------------------------

KEY_IDS=()
KEY_FILES=()

valid_key_id() {
	[[ $1 =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$ ]]
}

add_key() {
	local id=$1 file=$2 origin=$3 i size
	valid_key_id "$id" ||
		die "key id '$id' ($origin) is not valid" \
			"a key id is 1..64 characters of A-Z a-z 0-9 . _ - and does not start with '.' (e.g. main-2026)"
	for i in "${!KEY_IDS[@]}"; do
		[ "${KEY_IDS[$i]}" != "$id" ] ||
			die "key id '$id' is given twice" "give every key its own id"
	done
	{ [ -f "$file" ] && [ -r "$file" ]; } ||
		die "key file '$file' for key id '$id' is not a readable file" \
			"keys are read from files only: give the path of a file holding the key"
	size=$(stat -L -c %s -- "$file")
	[ "$size" -ge "$KEY_MIN_LEN" ] ||
		die "key file '$file' for key id '$id' holds $size bytes, fewer than $KEY_MIN_LEN" \
			"use a random key of at least $KEY_MIN_LEN bytes: mediaupd-bundle keygen --luks FILE"
	[ "$size" -le "$KEY_MAX_LEN" ] ||
		die "key file '$file' for key id '$id' holds $size bytes, more than $KEY_MAX_LEN" \
			"use a random key of $KEY_MIN_LEN..$KEY_MAX_LEN bytes: mediaupd-bundle keygen --luks FILE"
	KEY_IDS+=("$id")
	KEY_FILES+=("$file")
}

load_keys() {
	local spec f id
	if [ -n "$KEYS_DIR" ]; then
		[ -d "$KEYS_DIR" ] ||
			die "keys directory '$KEYS_DIR' does not exist" "give a directory holding ID.key files"
		for f in "$KEYS_DIR"/*.key; do
			[ -e "$f" ] || continue
			id=$(basename -- "$f" .key)
			add_key "$id" "$f" "from $KEYS_DIR"
		done
		[ ${#KEY_IDS[@]} -gt 0 ] ||
			die "keys directory '$KEYS_DIR' holds no ID.key file" \
				"put each encryption key in DIR/ID.key (e.g. main-2026.key)"
	else
		for spec in "${KEY_SPECS[@]}"; do
			[[ $spec == *=* ]] ||
				usage_error "--key needs ID=FILE, e.g. --key main-2026=keys/main-2026.key (got no '=')"
			add_key "${spec%%=*}" "${spec#*=}" "--key"
		done
	fi
	[ ${#KEY_IDS[@]} -le "$MAX_KEYS" ] ||
		die "${#KEY_IDS[@]} encryption keys given, a bundle holds at most $MAX_KEYS" \
			"drop retired keys, or make one bundle per group of devices"
}

# Checks that each signing key file holds one ed25519 secret key (base64 of seed||public).
load_signing_keys() {
	local f lines raw_len
	for f in "${SIGNING_KEYS[@]}"; do
		{ [ -f "$f" ] && [ -r "$f" ]; } ||
			die "signing key '$f' is not a readable file" \
				"secrets are read from files only: give the path of the secret key file (GitLab: a variable of type File)"
		lines=$(grep -c . -- "$f" || true)
		[ "$lines" = 1 ] ||
			die "signing key file '$f' holds $lines non-empty lines, not one key" \
				"give one key per file: base64 of 64 bytes seed||public, as 'mediaupd-bundle keygen --signing' writes"
		raw_len=$(base64 -d -- "$f" 2>/dev/null | wc -c) || raw_len=bad
		[ "$raw_len" = 64 ] ||
			die "signing key file '$f' is not an ed25519 secret key (base64 of 64 bytes)" \
				"make one with 'mediaupd-bundle keygen --signing PREFIX' and use PREFIX.secret"
	done
}

# --- commits --------------------------------------------------------------------------------

ostree_repo() {
	ostree --repo="$REPO" "$@"
}

commit_exists() {
	ostree_repo show -- "$1" >/dev/null 2>&1
}

# Prints a commit's metadata string KEY, or nothing.
commit_meta() {
	local v
	v=$(ostree_repo show --print-metadata-key="$2" -- "$1" 2>/dev/null) || return 0
	v=${v#\'}
	v=${v%\'}
	printf '%s' "$v"
}

# Prints PRETTY_NAME of the commit's os-release, or nothing (informational only).
commit_os_name() {
	local f line
	for f in /usr/lib/os-release /etc/os-release /usr/etc/os-release; do
		line=$(ostree_repo cat -- "$1" "$f" 2>/dev/null | grep -m1 '^PRETTY_NAME=') || continue
		line=${line#PRETTY_NAME=}
		line=${line#[\"\']}
		line=${line%[\"\']}
		printf '%s' "${line:0:200}" | tr -d '\r\n'
		return 0
	done
}

# Prints the commit's date as ostree shows it, or nothing.
commit_date() {
	ostree_repo show -- "$1" 2>/dev/null | sed -n 's/^Date: *//p' | head -n 1
}

resolve_commits() {
	{ [ -d "$REPO/objects" ] && [ -f "$REPO/config" ]; } ||
		die "'$REPO' is not an OSTree repository" "give --repo the path of the repository (the directory holding 'config' and 'objects/')"
	# ostree static-delta generate refuses a repository it cannot write to (with --filename
	# it leaves nothing behind in it).
	[ -w "$REPO" ] ||
		die "the repository '$REPO' is not writable by $(id -un), which ostree needs to generate a delta" \
			"run as the repository's owner, or make a writable copy of it (cp -a)"
	local ref_head
	ref_head=$(ostree_repo rev-parse -- "$REF" 2>/dev/null) ||
		die "ref '$REF' is not in the repository '$REPO'" \
			"check the name with: ostree --repo='$REPO' refs"
	if [ -n "$TO" ]; then
		{ TO_COMMIT=$(ostree_repo rev-parse -- "$TO" 2>/dev/null) && commit_exists "$TO_COMMIT"; } ||
			die "the --to commit '$TO' is not in the repository '$REPO'" \
				"give a commit of '$REF' that the repository holds: ostree --repo='$REPO' log '$REF'"
	else
		TO_COMMIT=$ref_head
	fi
	FROM_COMMIT=
	if [ "$EMPTY" = 0 ]; then
		{ FROM_COMMIT=$(ostree_repo rev-parse -- "$FROM" 2>/dev/null) && commit_exists "$FROM_COMMIT"; } ||
			die "the --from commit '$FROM' is not in the repository '$REPO'" \
				"pull or keep the commit the devices run now in the repository, or use --empty for a full update"
		[ "$FROM_COMMIT" != "$TO_COMMIT" ] ||
			die "--from and the target are the same commit $TO_COMMIT: nothing to update" \
				"build the bundle after committing the new version to '$REF'"
	fi
	TO_VERSION=$(commit_meta "$TO_COMMIT" version)
	TO_DATE=$(commit_date "$TO_COMMIT")
	OS_NAME=$(commit_os_name "$TO_COMMIT")
	FROM_VERSION=
	[ -z "$FROM_COMMIT" ] || FROM_VERSION=$(commit_meta "$FROM_COMMIT" version)
}

# --- output file ----------------------------------------------------------------------------

check_output() {
	[ ! -d "$OUTPUT" ] || die "--output '$OUTPUT' is a directory" "give a file name, e.g. '$OUTPUT/$DEFAULT_OUTPUT'"
	OUT_DIR=$(dirname -- "$OUTPUT")
	{ [ -d "$OUT_DIR" ] && [ -w "$OUT_DIR" ]; } ||
		die "cannot write into the directory '$OUT_DIR' of --output" "create it or choose a writable place"
	if [ -e "$OUTPUT" ] && [ "$FORCE" = 0 ]; then
		die "'$OUTPUT' exists already" "remove it, choose another --output, or add --force to replace it"
	fi
}

# The finished bundle replaces OUTPUT in one rename, so nobody ever sees half a bundle.
install_output() {
	chmod 0644 -- "$PARTIAL"
	if [ "$FORCE" = 1 ]; then
		mv -f -- "$PARTIAL" "$OUTPUT"
	else
		mv -n -- "$PARTIAL" "$OUTPUT" || true
		[ ! -e "$PARTIAL" ] ||
			die "'$OUTPUT' appeared while the bundle was being built; it was left as it is" \
				"remove it or add --force, and run again"
	fi
	PARTIAL=
}

# --- work directory and cleanup -------------------------------------------------------------

WORK=
PARTIAL=

cleanup() {
	if [ -n "$PARTIAL" ]; then
		rm -f -- "$PARTIAL"
	fi
	if [ -n "$WORK" ]; then
		rm -rf -- "$WORK"
	fi
}

make_work_dirs() {
	umask 022
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/mediaupd-bundle.XXXXXXXX") ||
		die "cannot create a work directory in '${TMPDIR:-/tmp}'" "set TMPDIR to a writable directory with room for 3x the delta"
	chmod 0700 "$WORK"
	PARTIAL=$(mktemp "$OUT_DIR/.$(basename -- "$OUTPUT").XXXXXXXX") ||
		die "cannot create a temporary file beside '$OUTPUT'" "check that '$OUT_DIR' is writable"
	mkdir -p "$WORK/root/delta"
}

# --- the pieces -----------------------------------------------------------------------------

generate_delta() {
	local from_args=(--empty)
	[ -z "$FROM_COMMIT" ] || from_args=(--from="$FROM_COMMIT")
	RUN_HINT="check that the repository holds both commits completely (ostree --repo='$REPO' fsck)" \
		run "ostree static-delta generate" \
		ostree --repo="$REPO" static-delta generate "${from_args[@]}" --to="$TO_COMMIT" \
		--min-fallback-size=0 --filename="$WORK/root/delta/superblock"
	[ -f "$WORK/root/delta/superblock" ] || die "ostree wrote no delta superblock" "report this as a bug"
	mv -- "$WORK/root/delta/superblock" "$WORK/superblock.unsigned"
	local f
	DELTA_PARTS=0
	for f in "$WORK/root/delta"/*; do
		[ -e "$f" ] || continue
		[[ $(basename -- "$f") =~ ^[0-9]+$ ]] ||
			die "unexpected file '$(basename -- "$f")' in the generated delta" "report this as a bug"
		DELTA_PARTS=$((DELTA_PARTS + 1))
	done
}

sign_delta() {
	local args=() f
	for f in "${SIGNING_KEYS[@]}"; do
		args+=(--key "$f")
	done
	RUN_HINT="check the signing key files (base64 of seed||public, as 'mediaupd-bundle keygen --signing' writes)" \
		run "signing the delta superblock" \
		"$BUNDLE_TOOL" sign "${args[@]}" "$WORK/superblock.unsigned" "$WORK/root/delta/superblock"
}

write_manifest() {
	{
		echo "# mediaupd bundle manifest: informational only. A device never decides from it;"
		echo "# it trusts only the signed delta superblock and the commit that pins."
		echo "format-version=$FORMAT_VERSION"
		echo "os=$OS_NAME"
		echo "ref=$REF"
		echo "from-commit=${FROM_COMMIT:-}"
		echo "from-version=${FROM_VERSION:-}"
		echo "to-commit=$TO_COMMIT"
		echo "to-version=$TO_VERSION"
		echo "to-date=$TO_DATE"
		echo "update-type=$([ -n "$FROM_COMMIT" ] && echo delta || echo full)"
		echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "tool=make-v1-bundle.sh $TOOL_VERSION"
		echo "filesystem=$FS"
	} >"$WORK/root/manifest"
}

build_image() {
	local img=$WORK/inner.img
	# Every file root-owned (the mkfs options) and world-readable, whatever umask wrote it.
	find "$WORK/root" -type d -exec chmod 0755 {} +
	find "$WORK/root" -type f -exec chmod 0644 {} +
	case $FS in
	erofs)
		run "mkfs.erofs" mkfs.erofs --all-root -T0 "$img" "$WORK/root"
		;;
	squashfs)
		run "mksquashfs" mksquashfs "$WORK/root" "$img" -noappend -noI -noD -noF -noX \
			-all-root -mkfs-time 0 -all-time 0 -quiet
		;;
	ext4)
		build_ext4 "$img"
		;;
	esac
	# The container's 4 KiB sectors need a whole number of them.
	local size
	size=$(stat -c %s "$img")
	truncate -s $(((size + SECTOR_SIZE - 1) / SECTOR_SIZE * SECTOR_SIZE)) "$img"
}

# ext4 has a fixed size: make it roomy, fill it, then shrink it to the minimum.
build_ext4() {
	local img=$1 kib blocks
	kib=$(du -sk --apparent-size "$WORK/root" | cut -f1)
	blocks=$((kib * 2 / 4 + 2048))
	run "mke2fs" mke2fs -q -F -t ext4 -b 4096 -O ^has_journal -m 0 -E root_owner=0:0 \
		-L mediaupd -d "$WORK/root" "$img" "$blocks"
	# mke2fs -d keeps the builder's uid/gid: make every inode root's.
	(cd "$WORK/root" && find . -mindepth 1 -printf 'sif /%P uid 0\nsif /%P gid 0\n') >"$WORK/debugfs.cmd"
	run "debugfs (file owners)" debugfs -w -f "$WORK/debugfs.cmd" "$img"
	run "resize2fs -M" resize2fs -M "$img"
	run "e2fsck" e2fsck -f -n "$img"
}

build_container() {
	local n=${#KEY_IDS[@]} i keyslots header
	keyslots=$((n * KEYSLOT_SIZE + REENCRYPT_SLOT_ROOM))
	header=$((2 * METADATA_SIZE + keyslots))
	# Header room first, then the image; reencrypt encrypts the image in place behind a
	# detached header, which is then written into the room in front.
	truncate -s "$header" "$PARTIAL"
	cat -- "$WORK/inner.img" >>"$PARTIAL"
	RUN_HINT="check the encryption key files and the free space in '$OUT_DIR'" \
		run "cryptsetup reencrypt --encrypt" \
		cryptsetup reencrypt --encrypt --type luks2 --cipher "$CIPHER" --key-size "$KEY_BITS" \
		--sector-size "$SECTOR_SIZE" --luks2-metadata-size "$METADATA_SIZE" \
		--luks2-keyslots-size "$keyslots" --header "$WORK/header.img" --offset $((header / 512)) \
		--resilience none "${PBKDF_OPTS[@]}" --key-file "${KEY_FILES[0]}" --key-slot 0 \
		--batch-mode --disable-locks "$PARTIAL"
	run "cryptsetup luksHeaderRestore" \
		cryptsetup luksHeaderRestore "$PARTIAL" --header-backup-file "$WORK/header.img" \
		--batch-mode --disable-locks
	rm -f -- "$WORK/header.img"
	for ((i = 1; i < n; i++)); do
		run "adding the key '${KEY_IDS[$i]}' to keyslot $i" \
			cryptsetup luksAddKey "$PARTIAL" "${KEY_FILES[$i]}" --key-file "${KEY_FILES[0]}" \
			--new-key-slot "$i" "${PBKDF_OPTS[@]}" --batch-mode --disable-locks
	done
	run "cryptsetup config (label, subsystem)" \
		cryptsetup config "$PARTIAL" --label "$LUKS_LABEL" --subsystem "$LUKS_SUBSYSTEM" \
		--disable-locks
	for ((i = 0; i < n; i++)); do
		token_json "$i" >"$WORK/token.json"
		run "importing the key-id token for '${KEY_IDS[$i]}'" \
			cryptsetup token import --json-file "$WORK/token.json" --token-id "$i" \
			--disable-locks "$PARTIAL"
	done
}

token_json() {
	printf '{"type":"%s","keyslots":["%d"],"key_id":"%s"}' "$TOKEN_TYPE" "$1" "${KEY_IDS[$1]}"
}

# --- self-check -----------------------------------------------------------------------------

# The header as built: label, subsystem, one keyslot and one matching token per key.
check_header() {
	local dump slots i json
	dump=$(cryptsetup luksDump --disable-locks "$PARTIAL")
	grep -qx "Label:[[:space:]]*$LUKS_LABEL" <<<"$dump" ||
		die "self-check: the LUKS2 label is not '$LUKS_LABEL'" "report this as a bug"
	grep -qx "Subsystem:[[:space:]]*$LUKS_SUBSYSTEM" <<<"$dump" ||
		die "self-check: the LUKS2 subsystem is not '$LUKS_SUBSYSTEM'" "report this as a bug"
	slots=$(grep -cE '^  [0-9]+: luks2$' <<<"$dump" || true)
	[ "$slots" = "${#KEY_IDS[@]}" ] ||
		die "self-check: the bundle has $slots keyslots for ${#KEY_IDS[@]} keys" \
			"the LUKS2 header ran out of keyslot room; report this as a bug"
	for i in "${!KEY_IDS[@]}"; do
		json=$(cryptsetup token export --token-id "$i" --disable-locks "$PARTIAL") ||
			die "self-check: keyslot $i has no key-id token" "report this as a bug"
		[ "$json" = "$(token_json "$i")" ] ||
			die "self-check: token $i is '$json', expected '$(token_json "$i")'" "report this as a bug"
	done
}

# --- summary --------------------------------------------------------------------------------

elapsed() {
	local us=$((${EPOCHREALTIME/./} - START_US))
	printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

main() {
	START_US=${EPOCHREALTIME/./}
	parse_args "$@"
	check_args
	check_tools
	load_signing_keys
	load_keys
	check_output
	resolve_commits
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	make_work_dirs

	step "generating the delta ${FROM_COMMIT:-empty} -> $TO_COMMIT"
	generate_delta
	step "signing the delta superblock with ${#SIGNING_KEYS[@]} key(s)"
	sign_delta
	write_manifest
	step "building the $FS image"
	build_image
	step "encrypting to LUKS2 with ${#KEY_IDS[@]} keyslot(s) ($PBKDF_TEXT)"
	build_container
	step "self-check"
	check_header
	install_output
	printf 'Bundle:      %s (format v%d, %d keyslot(s))\n' "$OUTPUT" "$FORMAT_VERSION" "${#KEY_IDS[@]}"
}

main "$@"
