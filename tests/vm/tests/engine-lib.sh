# shellcheck shell=bash
# Host-side helpers of the engine's vm tests (sourced after lib.sh): bundles (format v2) made by
# make-encrypted-bundle.sh from a scratch copy of the test OS repo, hand-made bad bundles,
# the guest's device keys and trusted keys, and snapshots of what an install may change.

KEYS=$SRC_ROOT/keys-example
BUNDLE_TOOL=${MEDIAUPD_BUILD_ROOT:-}/daemon/mediaupd-bundle/mediaupd-bundle
# The guest's configuration for the engine: the example keys, the sysroot of the booted
# system, and the trusted signing keys in OSTree's places.
GUEST_CONF=/etc/mediaupd/mediaupd.conf
# The same with format 1 allowed, for the tests about format 1 only.
GUEST_CONF_V1=/etc/mediaupd/formats-1-2.conf
# LUKS2 layout of the hand-made bundles (what the bundle maker does, without its checks):
# format v2, 64 KiB metadata, room for two keyslots of 258048 bytes.
LUKS_ARGS=(--type luks2 --cipher aes-xts-plain64 --key-size 512 --sector-size 4096
	--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode --disable-locks)
PACK_META=65536
PACK_KEYSLOTS=$((2 * 258048))

# eng_repo: a writable scratch archive repo holding the test OS commits (the image's repo
# is a shared cache and stays untouched)
eng_repo() {
	ENG_REPO=$T_WORK/repo
	ostree --repo="$ENG_REPO" init --mode=archive
	ostree --repo="$ENG_REPO" pull-local "$VM_REPO" "$VM_REF" >/dev/null
	for c in "$VM_COMMIT_1" "$VM_COMMIT_2" "$VM_COMMIT_3"; do
		ostree --repo="$ENG_REPO" pull-local "$VM_REPO" "$c" >/dev/null
	done
}

# eng_commit REF FROM_COMMIT VERSION TIMESTAMP [COMMIT-ARGS...]: a new commit of FROM_COMMIT's
# tree on REF in the scratch repo; prints its checksum
eng_commit() {
	local ref=$1 tree=$2 version=$3 when=$4
	shift 4
	ostree --repo="$ENG_REPO" commit -b "$ref" --tree=ref="$tree" --timestamp="$when" \
		--add-metadata-string=version="$version" -s "test commit $version" "$@"
}

# Full (--empty) bundles of the test OS take minutes to make (libostree compresses every
# object of the tree), and several tests ship the same one. They are kept in
# $MEDIAUPD_VM_CACHE/bundles, named by a hash of everything that goes into them: the sources
# of the maker (daemon/engine, daemon/mediaupd-bundle, scripts, the meson files), the ref,
# every argument, and the content of every file an argument names (keys, signing keys).
# Commits are named by their checksums. So a cached bundle is what this tree's maker makes
# of these inputs; only the random salts and volume key differ.
# MEDIAUPD_VM_BUNDLE_CACHE=0 turns the cache off.
BUNDLE_CACHE=${MEDIAUPD_VM_CACHE:-/var/cache/mediaupd-vm}/bundles

# bundle_cache_key ARGS...: the hash naming the bundle that the maker makes of ARGS
bundle_cache_key() {
	local a
	{
		(cd "$SRC_ROOT" && find daemon/engine daemon/mediaupd-bundle scripts meson.build \
			meson_options.txt -type f -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum)
		printf 'ref %s\n' "${ENG_REF:-$VM_REF}"
		for a in "$@"; do
			if [ -f "$a" ]; then
				printf 'file '
				sha256sum <"$a"
			elif [[ $a == *=* ]] && [ -f "${a#*=}" ]; then
				printf 'arg %s=' "${a%%=*}"
				sha256sum <"${a#*=}"
			else
				printf 'arg %s\n' "$a"
			fi
		done
	} | sha256sum | cut -c1-32
}

# bundle_cache_get OUTPUT MAKER-ARGS...: copies the cached full bundle of MAKER-ARGS (those
# of make_update, without --repo and --output) to OUTPUT; fails when it is not cached, or
# when MAKER-ARGS do not make a full bundle
bundle_cache_get() {
	local out=$1 file
	shift
	bundle_cache_wanted "$@" || return
	file=$BUNDLE_CACHE/full-$(bundle_cache_key "$@").enc
	[ -s "$file" ] || return
	cp "$file" "$out"
	touch "$file"
	echo "# full bundle from the cache: ${file##*/}"
}

# bundle_cache_put FILE MAKER-ARGS...: keeps a copy of the full bundle FILE that MAKER-ARGS
# made; keeps the six bundles used last
bundle_cache_put() {
	local in=$1 file
	shift
	bundle_cache_wanted "$@" || return 0
	file=$BUNDLE_CACHE/full-$(bundle_cache_key "$@").enc
	mkdir -p "$BUNDLE_CACHE"
	cp "$in" "$file.tmp.$$" && mv "$file.tmp.$$" "$file"
	# shellcheck disable=SC2012 # the names are ours: full-HEX.enc
	ls -t "$BUNDLE_CACHE"/full-*.enc | tail -n +7 | xargs -r rm -f
}

# bundle_cache_wanted MAKER-ARGS...: the cache is on and MAKER-ARGS make a full bundle
bundle_cache_wanted() {
	local a
	[ "${MEDIAUPD_VM_BUNDLE_CACHE:-1}" != 0 ] || return 1
	for a in "$@"; do [ "$a" = --empty ] && return 0; done
	return 1
}

# make_update OUTPUT (--from C | --empty) --to C [MAKER-ARGS...]: a v2 bundle from the bundle
# maker with the example signing key; keys main-2026 and fallback-1 unless MAKER-ARGS give keys
make_update() {
	local out=$1
	shift
	local args=("$@") has_keys=0 a
	for a in "${args[@]}"; do [ "$a" = --key ] && has_keys=1; done
	[ "$has_keys" = 1 ] || args+=(--key main-2026="$KEYS/main-2026.key"
		--key fallback-1="$KEYS/fallback-1.key")
	local signed=0
	for a in "${args[@]}"; do [ "$a" = --signing-key ] && signed=1; done
	[ "$signed" = 1 ] || args+=(--signing-key "$KEYS/example-signing.secret")
	bundle_cache_get "$out" "${args[@]}" && return
	MEDIAUPD_BUNDLE=$BUNDLE_TOOL "$SRC_ROOT/scripts/make-encrypted-bundle.sh" \
		--repo "$ENG_REPO" --ref "${ENG_REF:-$VM_REF}" --output "$out" --force "${args[@]}" \
		>"$T_WORK/make-bundle.log" 2>&1 || {
		cat "$T_WORK/make-bundle.log"
		fail "make-encrypted-bundle.sh failed for $out"
	}
	bundle_cache_put "$out" "${args[@]}"
}

# make_v1_update OUTPUT MAKER-ARGS...: a bundle of the legacy format 1, for the tests about
# the format gate (tests/unit/make-v1-bundle.sh, tests only), as make_update otherwise
make_v1_update() {
	local out=$1
	shift
	MEDIAUPD_BUNDLE=$BUNDLE_TOOL "$SRC_ROOT/tests/unit/make-v1-bundle.sh" \
		--repo "$ENG_REPO" --ref "${ENG_REF:-$VM_REF}" --output "$out" --force \
		--key main-2026="$KEYS/main-2026.key" --key fallback-1="$KEYS/fallback-1.key" \
		--signing-key "$KEYS/example-signing.secret" "$@" >"$T_WORK/make-bundle.log" 2>&1 || {
		cat "$T_WORK/make-bundle.log"
		fail "make-v1-bundle.sh failed for $out"
	}
}

# delta_dir DIR (--from=C | --empty) --to=C: a non-inline delta, superblock unsigned
delta_dir() {
	local dir=$1
	shift
	mkdir -p "$dir/delta"
	ostree --repo="$ENG_REPO" static-delta generate "$@" --min-fallback-size=0 \
		--filename="$dir/delta/superblock" >/dev/null 2>&1
	printf 'hand-made test bundle\n' >"$dir/manifest"
}

# sign_dir DIR SECRET: wrap DIR/delta/superblock in the signed envelope
sign_dir() {
	mv "$1/delta/superblock" "$1/superblock.unsigned"
	"$BUNDLE_TOOL" sign --key "$2" "$1/superblock.unsigned" "$1/delta/superblock" >/dev/null
	rm "$1/superblock.unsigned"
}

# pack_image IMAGE OUTPUT SUPERBLOCK: a filesystem image in a v2 bundle that main-2026 opens,
# made by hand as docs/bundle-format.md shows ("Making a v2 bundle by hand"): the image in a
# LUKS2 file with one keyslot and its key-id token, dm-verity over the ciphertext, and a
# signed header (example signing key) describing the update of the signed delta superblock
# SUPERBLOCK, a commit of ${ENG_REF:-$VM_REF} in the scratch repo. The image need not hold
# SUPERBLOCK: what it holds is what the device finds after unlocking.
pack_image() {
	local img=$1 out=$2 sb=$3 padded=$T_WORK/pack.padded off size salt root
	off=$((2 * PACK_META + PACK_KEYSLOTS))
	cp "$img" "$padded"
	# whole 4096-byte sectors, at least two (a hash tree needs them; a small erofs image is
	# one sector): the zeros after the filesystem are never read
	size=$((($(stat -c %s "$padded") + 4095) / 4096 * 4096))
	truncate -s $((size < 8192 ? 8192 : size)) "$padded"
	size=$(stat -c %s "$padded")
	rm -f "$out" "$T_WORK/pack.hdr"
	truncate -s "$off" "$out"
	cat "$padded" >>"$out"
	rm -f "$padded"
	cryptsetup reencrypt --encrypt "${LUKS_ARGS[@]}" --luks2-metadata-size "$PACK_META" \
		--luks2-keyslots-size "$PACK_KEYSLOTS" --header "$T_WORK/pack.hdr" \
		--offset $((off / 512)) --resilience none --key-file "$KEYS/main-2026.key" \
		--key-slot 0 "$out" >/dev/null
	cryptsetup luksHeaderRestore "$out" --header-backup-file "$T_WORK/pack.hdr" --batch-mode \
		--disable-locks
	rm -f "$T_WORK/pack.hdr"
	cryptsetup config "$out" --label mediaupd-bundle --subsystem mediaupd-v2 --disable-locks
	printf '{"type":"mediaupd-keyid","keyslots":["0"],"key_id":"main-2026"}' >"$T_WORK/tok.json"
	cryptsetup token import --json-file "$T_WORK/tok.json" --token-id 0 "$out" --disable-locks
	dd if="$out" of="$T_WORK/pack.cipher" bs=4096 skip=$((off / 4096)) count=$((size / 4096)) \
		status=none
	salt=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	root=$(veritysetup format --no-superblock --hash=sha256 --data-block-size=4096 \
		--hash-block-size=4096 --salt="$salt" --hash-offset=$((off + size)) \
		"$T_WORK/pack.cipher" "$out" | sed -n 's/^Root hash:[[:space:]]*//p')
	rm -f "$T_WORK/pack.cipher"
	"$BUNDLE_TOOL" sign-header --repo "$ENG_REPO" --ref "${ENG_REF:-$VM_REF}" \
		--superblock "$sb" --signing-key "$KEYS/example-signing.secret" --data-size "$size" \
		--verity-salt "$salt" --root-hash "$root" "$out" >/dev/null
}

# pack_bundle DIR OUTPUT [SUPERBLOCK]: DIR as an erofs image in a v2 bundle that main-2026
# opens, its signed header made for SUPERBLOCK (default: DIR/delta/superblock)
pack_bundle() {
	local dir=$1 out=$2 sb=${3:-$1/delta/superblock} img=$T_WORK/pack.img
	rm -f "$img" "$out"
	mkfs.erofs --all-root -T0 "$img" "$dir" >/dev/null
	pack_image "$img" "$out" "$sb"
	rm -f "$img"
}

# unsign BUNDLE: remove the signed header's token from BUNDLE, as a forger without a signing
# key would ship it
unsign() {
	local id
	id=$(cryptsetup luksDump --dump-json-metadata --disable-locks "$1" |
		python3 -c 'import json,sys; print([k for k, t in json.load(sys.stdin)["tokens"].items() if t["type"] == "mediaupd-signed"][0])')
	cryptsetup token remove --token-id "$id" --disable-locks "$1"
}

# flip_byte FILE OFFSET: XOR the byte at OFFSET with 0xff, so the file surely changes there
# (writing a constant may write the byte that was already there), and check that it did
flip_byte() {
	local file=$1 off=$2 old
	cp "$file" "$T_WORK/flip.orig"
	old=$(od -An -tu1 -j "$off" -N1 "$file" | tr -d ' ')
	[ -n "$old" ] || fail "flip_byte: $file has no byte at offset $off"
	# shellcheck disable=SC2059
	printf "\\$(printf %03o $((old ^ 0xff)))" |
		dd of="$file" bs=1 seek="$off" conv=notrunc status=none
	! cmp -s "$file" "$T_WORK/flip.orig" || fail "flip_byte: $file did not change at $off"
	rm -f "$T_WORK/flip.orig"
}

# guest_setup: the device's keys and configuration in the guest
guest_setup() {
	"$VM" copy-in "$KEYS/main-2026.key" /etc/mediaupd/keys/main-2026.key
	"$VM" copy-in "$KEYS/fallback-1.key" /etc/mediaupd/keys/fallback-1.key
	"$VM" copy-in "$KEYS/example-signing.pub" /etc/ostree/trusted.ed25519.d/example.pub
	g chmod 0600 /etc/mediaupd/keys/main-2026.key /etc/mediaupd/keys/fallback-1.key
	# The configuration a device ships with: format v2 only (the default).
	g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' >$GUEST_CONF"
	g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' '[Bundle]' 'Formats=1;2' \
		>$GUEST_CONF_V1"
}

# state: everything a refused or failed install must leave as it was
state() {
	g sh -c "ostree admin status; echo ref: \$(ostree rev-parse $VM_REF);
		cat /boot/loader/uEnv.txt; readlink /boot/loader;
		ls /boot/loader/entries; echo dm: \$(dmsetup ls | grep -c mediaupd || true);
		echo loops: \$(losetup -n -O NAME | wc -l);
		echo mounts: \$(findmnt -rn -o TARGET | grep -c ^/run/mediaupd/ || true)"
}

# apply BUNDLE_PATH: run the engine in the guest; prints its JSON result line, returns its status
apply() {
	g mediaupdctl apply --local "$1" --json --config "$GUEST_CONF" | tail -n 1
}

# json_field JSON NAME: a string member of a JSON object
json_field() {
	python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}
