#!/bin/bash
# vm test 18: bundle format v2 on the OSTree-booted guest, all cases in one boot. Bundles
# from `mediaupd-bundle create` (and crafted copies), on an ext4 stick:
#  - refused before any PBKDF, loop device or mapping (no key trial in the result, no unlock
#    or keyslot line in the engine's debug log, no loop device attached in the kernel log,
#    nothing changed): header signed by an unknown key, by a revoked key, for another OS, a
#    downgrade, the booted commit; a keyslot crafted with cipher_null; the data segment's
#    size or offset changed in the live header;
#  - refused later: one ciphertext byte flipped in the image's first block and one in the
#    middle of the delta (CorruptBundle from dm-verity; nothing new in the repo, no mapping,
#    loop device or mount left);
#  - a v1 bundle refused by the default configuration (UnsupportedFormat);
#  - a v2 delta bundle installs and deploys (phases discover, verify, check, unlock, verify,
#    apply, deploy; journal events), then the v1 bundle installs once Formats=1;2;
#  - a bundle rekeyed on the host (`mediaupd-bundle rekey --add new-2028 --remove main-2026`,
#    unprivileged): main-2026 opens no keyslot of it any more (cryptsetup), a device holding
#    only main-2026 refuses it (NoKey, nothing changed), one holding only new-2028 installs it;
#  - a bundle made by hand with the recipe of docs/bundle-format.md installs;
#  - a full (--empty) v2 bundle installs, and the guest reboots into it.
# Every bundle and the stick are made before the guest boots; each install leaves no mount,
# mapping or loop device.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"

REFUSED_ID=074dea9ae51f8bcec426499edd32dff9
DEPLOYED_ID=a4e6b84b811cddf92a52a9a044444c78
VERIFIED_ID=aa0b65aa8ffe85f686f013cb4ffa7ac8
EDIT=$SRC_ROOT/tests/unit/luks2-edit.py
CONF_V2=/etc/mediaupd/v2-only.conf
# devices that hold only the key a rekey removed, or only the key it added
CONF_OLD=/etc/mediaupd/old-key-only.conf
CONF_NEW=/etc/mediaupd/new-key-only.conf
NOBODY=65534
m=$T_WORK/media
mkdir -p "$m"

# make_v2 OUTPUT CREATE-ARGS...: a v2 bundle from the bundle maker, for keys main-2026 and
# fallback-1, signed with the example key unless CREATE-ARGS name another
make_v2() {
	local out=$1
	shift
	local args=("$@") signed=0 a
	for a in "${args[@]}"; do [ "$a" = --signing-key ] && signed=1; done
	[ "$signed" = 1 ] || args+=(--signing-key "$KEYS/example-signing.secret")
	args+=(--key main-2026="$KEYS/main-2026.key" --key fallback-1="$KEYS/fallback-1.key")
	bundle_cache_get "$out" create "${args[@]}" && return
	"$BUNDLE_TOOL" create --repo "$ENG_REPO" --ref "${ENG_REF:-$VM_REF}" --output "$out" \
		--force "${args[@]}" >"$T_WORK/create.log" 2>&1 || {
		cat "$T_WORK/create.log"
		fail "mediaupd-bundle create failed for $out"
	}
	bundle_cache_put "$out" create "${args[@]}"
}

# segment FILE FIELD: the data segment's offset or size (bytes) from FILE's LUKS2 JSON
segment() {
	python3 -c 'import json,sys
d=open(sys.argv[1],"rb").read(65536)
print(json.loads(d[4096:d.index(b"\0",4096)])["segments"]["0"][sys.argv[2]])' "$1" "$2"
}

# crafted SRC OUT EDIT-ARGS...: SRC with its LUKS2 header rewritten, asserted to differ
crafted() {
	local src=$1 out=$2
	shift 2
	cp "$src" "$out"
	python3 "$EDIT" "$out" "$@"
	! cmp -s "$src" "$out" || fail "$out: the crafted bundle is the same as $src"
}

# The guest boots once every bundle is made (the full one takes the maker minutes).
eval "$("$VM" info)"
eng_repo

# Bundles the bundle maker makes, but that this device must refuse before any key. Deltas
# from the booted commit: a full update takes the maker minutes under TCG's neighbours.
make_v2 "$m/good.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
"$BUNDLE_TOOL" keygen --signing "$T_WORK/unknown" >/dev/null
make_v2 "$m/unknown-signer.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2" \
	--signing-key "$T_WORK/unknown.secret"
"$BUNDLE_TOOL" keygen --signing "$T_WORK/revoked" >/dev/null
make_v2 "$m/revoked-signer.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2" \
	--signing-key "$T_WORK/revoked.secret"
other=$(eng_commit otheros/x86_64/main "$VM_COMMIT_2" 9.0 "$(date -u +%FT%TZ)" \
	--bind-ref=otheros/x86_64/main)
ENG_REF=otheros/x86_64/main make_v2 "$m/other-os.enc" --from "$VM_COMMIT_1" --to "$other"
old=$(eng_commit mediaupd-testos/x86_64/old "$VM_COMMIT_1" 0.9 2020-01-01T00:00:00Z \
	--bind-ref="$VM_REF")
ENG_REF=mediaupd-testos/x86_64/old make_v2 "$m/downgrade.enc" --from "$VM_COMMIT_1" --to "$old"
# The booted commit, as a delta from a later one: already installed comes first.
make_v2 "$m/installed.enc" --from "$VM_COMMIT_2" --to "$VM_COMMIT_1"
# A v1 bundle of the next update, for the format gate.
make_v1_update "$m/v1.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_3"

# Crafted copies of good.enc: what only a forger would write.
cryptsetup luksDump --dump-volume-key --volume-key-file "$T_WORK/vk" --batch-mode \
	--key-file "$KEYS/main-2026.key" --disable-locks "$m/good.enc" >/dev/null
crafted "$m/good.enc" "$m/cipher-null.enc" --null-keyslot 0 --volume-key "$T_WORK/vk"
rm -f "$T_WORK/vk"
off=$(segment "$m/good.enc" offset)
size=$(segment "$m/good.enc" size)
crafted "$m/good.enc" "$m/segment-size.enc" --set "segments.0.size=\"$((size - 4096))\""
crafted "$m/good.enc" "$m/segment-offset.enc" --set "segments.0.offset=\"$((off + 4096))\""
# Damaged copies: a ciphertext byte in the inner image's first block (its superblock), and
# one in the middle of the ciphertext (inside the delta parts).
cp "$m/good.enc" "$m/flipped-first.enc"
flip_byte "$m/flipped-first.enc" $((off + 1024 + 17))
cp "$m/good.enc" "$m/flipped-middle.enc"
flip_byte "$m/flipped-middle.enc" $((off + size / 2 + 123))
# Newer commits of the tree of version 3 on the device's ref, one per update still to come,
# each later than the one before (delta from the booted commit, hand-made, full).
# Dated after the image's newest commit, not by the clock, so that the commits (and the full
# bundle made of one, which the bundle cache then finds again) are the same in every run on
# the same image.
t0=$(($(date -d "$(ostree --repo="$ENG_REPO" log "$VM_COMMIT_4" | sed -n 's/^Date: *//p' |
	head -n 1)" +%s) + 3600))
when() { date -u -d "@$((t0 + $1))" +%FT%TZ; }
rekeyed_to=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 5 "$(when 1)" --bind-ref="$VM_REF")
full_to=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 7 "$(when 3)" --bind-ref="$VM_REF")

# Rekeyed on the host, unprivileged, with one key of the bundle and no signing key: the
# keyslot of main-2026 removed, one for a new key added.
rk=$T_WORK/rekey
mkdir -m 0700 "$rk"
make_v2 "$rk/rekeyed.enc" --from "$VM_COMMIT_1" --to "$rekeyed_to"
cp "$KEYS/main-2026.key" "$rk/"
chown -R "$NOBODY:$NOBODY" "$rk"
as_nobody() { setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups -- "$@"; }
as_nobody "$BUNDLE_TOOL" keygen --luks "$rk/new-2028.key" >/dev/null
as_nobody "$BUNDLE_TOOL" rekey "$rk/rekeyed.enc" --key main-2026="$rk/main-2026.key" \
	--add new-2028="$rk/new-2028.key" --remove main-2026 >"$T_WORK/rekey.log" 2>&1 || {
	cat "$T_WORK/rekey.log"
	fail "mediaupd-bundle rekey failed"
}
# test_key KEY: stock cryptsetup opens a keyslot of the rekeyed bundle with KEY (no dm)
test_key() {
	cryptsetup open --test-passphrase --disable-locks --key-file "$1" "$rk/rekeyed.enc" 2>/dev/null
}
! test_key "$rk/main-2026.key" || fail "the removed key main-2026 still opens the rekeyed bundle"
test_key "$rk/new-2028.key" || fail "the added key new-2028 opens no keyslot of the rekeyed bundle"
test_key "$KEYS/fallback-1.key" || fail "rekey lost the keyslot of fallback-1"
echo "ok: rekeyed: main-2026 opens no keyslot, new-2028 and fallback-1 each open one"
cp "$rk/rekeyed.enc" "$m/rekeyed.enc"

# Made by hand: the recipe of docs/bundle-format.md as it stands, in a directory holding what
# it starts from; its ref os/x86_64/main is a commit of version 3's tree on top of the booted
# commit, bound to the device's ref as well.
hand=$T_WORK/hand
mkdir -p "$hand/bin"
ln -s "$ENG_REPO" "$hand/repo"
ln -s "$BUNDLE_TOOL" "$hand/bin/mediaupd-bundle"
hand_to=$(eng_commit os/x86_64/main "$VM_COMMIT_3" 6 "$(when 2)" --parent="$VM_COMMIT_1" \
	--bind-ref="$VM_REF")
cp "$KEYS/example-signing.secret" "$hand/release.secret"
cp "$KEYS/example-signing.pub" "$hand/release.pub"
cp "$KEYS/main-2026.key" "$KEYS/fallback-1.key" "$hand/"
PATH=$hand/bin:$PATH "$SRC_ROOT/tests/unit/bundle-recipe.sh" "$hand" >"$T_WORK/recipe.log" 2>&1 || {
	tail -n 30 "$T_WORK/recipe.log"
	fail "the recipe of docs/bundle-format.md failed"
}
cp "$hand/bundle" "$m/hand-made.enc"

# A full update: every object of the commit, for a device on any commit.
t_full=$SECONDS
make_v2 "$m/full.enc" --empty --to "$full_to"
say "full bundle: $(stat -c %s "$m/full.enc") bytes, made in $((SECONDS - t_full)) s"

"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs ext4 "$m"/*

vm_up
guest_setup
# The configuration a device ships with: format v2 only (the default).
g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' >$CONF_V2"
"$VM" copy-in "$T_WORK/revoked.pub" /etc/ostree/trusted.ed25519.d/revoked.pub
"$VM" copy-in "$T_WORK/revoked.pub" /etc/ostree/revoked.ed25519.d/revoked.pub
plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 ext4 >/dev/null
g udisksctl mount -b /dev/sda1 -o ro,nosuid,nodev,noexec >/dev/null
mnt=$(g findmnt -n -o TARGET --source /dev/sda1 | head -n 1)

# repo_state: state, and what is in the system repo
repo_state() {
	state
	g sh -c "echo objects: \$(find /ostree/repo/objects -type f | wc -l)"
}

# engine CONF BUNDLE: the engine with its debug log in /run/engine.log; prints its result line
engine() {
	g sh -c "G_MESSAGES_DEBUG=all mediaupdctl apply --local '$2' --json --config '$1' \
		>/run/engine.log 2>&1; echo \"exit \$?\" >>/run/engine.log"
	g sh -c "grep '^{\"event\":\"result\"' /run/engine.log | tail -n 1"
}

# refused NAME ERROR EARLY: NAME fails with ERROR under the v2-only configuration (or
# REFUSE_CONF), with a
# 'refused' event, and changes nothing. EARLY=early: also before any key trial, loop device
# or mapping. Prints the message.
refused() {
	local name=$1 want=$2 early=${3:-} result events loops_before loops_after
	repo_state >"$T_WORK/before"
	loops_before=$(g sh -c "dmesg | grep -c 'loop[0-9]*: detected capacity change' || true")
	result=$(engine "${REFUSE_CONF:-$CONF_V2}" "$mnt/$name")
	g grep -qx 'exit 1' /run/engine.log || fail "$name: the engine did not exit with 1"
	check_eq "$name: error" "$(json_field "$result" error)" "$want" >&2
	events=$(g journalctl -o cat --output-fields=MEDIAUPD_ERROR MESSAGE_ID="$REFUSED_ID" \
		MEDIAUPD_BUNDLE="$mnt/$name")
	grep -qx "$want" <<<"$events" || fail "$name: no refused event with $want"
	repo_state >"$T_WORK/after"
	diff -u "$T_WORK/before" "$T_WORK/after" >&2 || fail "$name: the system changed"
	if [ "$early" = early ]; then
		check_eq "$name: key trials" "$(json_field "$result" key_trials)" 0 >&2
		! g grep -Ei 'phase unlock|against keyslot|open LUKS2 keyslot|using keyslot|keyslot [0-9]+ \([a-z0-9]+\) open failed' /run/engine.log >&2 ||
			fail "$name: a key was tried (engine log above)"
		loops_after=$(g sh -c "dmesg | grep -c 'loop[0-9]*: detected capacity change' || true")
		check_eq "$name: loop devices attached" "$loops_after" "$loops_before" >&2
		# The policy in check, the signed header in verify (a header libcryptsetup
		# itself will not load: discover).
		case "$want:$(json_field "$result" phase)" in
		WrongOs:check | Downgrade:check | AlreadyInstalled:check) ;;
		SignatureInvalid:verify | KeyRevoked:verify) ;;
		CorruptBundle:verify | CorruptBundle:discover) ;;
		*) fail "$name: refused in phase $(json_field "$result" phase)" ;;
		esac
	fi
	json_field "$result" message
}

msg=$(refused unknown-signer.enc SignatureInvalid early)
echo "ok: signed by an unknown key: refused before any key ($msg)"
msg=$(refused revoked-signer.enc KeyRevoked early)
echo "ok: signed by a revoked key: refused before any key ($msg)"
msg=$(refused other-os.enc WrongOs early)
echo "ok: for another OS: refused before any key ($msg)"
msg=$(refused downgrade.enc Downgrade early)
echo "ok: a downgrade: refused before any key ($msg)"
msg=$(refused installed.enc AlreadyInstalled early)
echo "ok: the booted commit: refused before any key ($msg)"
msg=$(refused cipher-null.enc CorruptBundle early)
grep -q "unencrypted" <<<"$msg" || fail "cipher-null.enc: unclear message: $msg"
echo "ok: a cipher_null keyslot: refused before any key ($msg)"
msg=$(refused segment-size.enc CorruptBundle early)
echo "ok: the segment's size changed: refused before any key ($msg)"
msg=$(refused segment-offset.enc CorruptBundle early)
echo "ok: the segment's offset changed: refused before any key ($msg)"

# The v1 bundle under the default configuration: refused, saying why and what to do.
msg=$(refused v1.enc UnsupportedFormat)
{ grep -q "not authenticated before" <<<"$msg" && grep -q "Formats=1;2" <<<"$msg"; } ||
	fail "v1.enc: unclear message: $msg"
echo "ok: a v1 bundle refused by default ($msg)"

# A flipped ciphertext byte: the key opens it, dm-verity refuses the block.
for name in flipped-first.enc flipped-middle.enc; do
	msg=$(refused "$name" CorruptBundle)
	grep -q "dm-verity" <<<"$msg" || fail "$name: not refused by dm-verity: $msg"
	g grep -q 'phase unlock' /run/engine.log || fail "$name: refused before unlock"
	echo "ok: $name: CorruptBundle from dm-verity, nothing written, nothing left ($msg)"
done

# The v2 update installs and deploys, under the v2-only configuration.
left_before=$(state | grep -E '^(dm|loops|mounts):' | tr '\n' ' ')
result=$(engine "$CONF_V2" "$mnt/good.enc")
g grep -qx 'exit 0' /run/engine.log || { g cat /run/engine.log; fail "good.enc: not installed"; }
check_eq "good.enc: to_commit" "$(json_field "$result" to_commit)" "$VM_COMMIT_2"
case "$(json_field "$result" key_id)" in
main-2026 | fallback-1) ;;
*) fail "good.enc: opened with '$(json_field "$result" key_id)', not a device key" ;;
esac
phases=$(g sh -c "grep -o '\"phase\":\"[a-z]*\"' /run/engine.log | cut -d'\"' -f4 | uniq | tr '\n' ' '")
check_eq "good.enc: phases" "$phases" "discover verify check unlock verify apply deploy finish "
grep -q "$VM_COMMIT_2" <<<"$(g ostree admin status)" || fail "good.enc: $VM_COMMIT_2 not deployed"
grep -q "$VM_COMMIT_2" <<<"$(g journalctl -o cat MESSAGE_ID="$DEPLOYED_ID")" ||
	fail "good.enc: no deployed event"
[ "$(g journalctl -o cat MESSAGE_ID="$VERIFIED_ID" | grep -c "$VM_COMMIT_2")" -ge 2 ] ||
	fail "good.enc: the header and the delta were not both verified"
check_eq "good.enc: left over" "$(state | grep -E '^(dm|loops|mounts):' | tr '\n' ' ')" \
	"$left_before"
echo "ok: a v2 bundle installed and deployed ($VM_COMMIT_2)"

# The v1 bundle once the configuration allows format 1.
result=$(engine "$GUEST_CONF_V1" "$mnt/v1.enc")
g grep -qx 'exit 0' /run/engine.log || { g cat /run/engine.log; fail "v1.enc: not installed"; }
check_eq "v1.enc: to_commit" "$(json_field "$result" to_commit)" "$VM_COMMIT_3"
grep -q "$VM_COMMIT_3" <<<"$(g ostree admin status)" || fail "v1.enc: $VM_COMMIT_3 not deployed"
echo "ok: the v1 bundle installed with Formats=1;2"

# left: what an install may leave behind (mediaupd mappings, loop devices, mounts under
# /run/mediaupd), on one line
left() { state | grep -E '^(dm|loops|mounts):' | tr '\n' ' '; }

# installed CONF NAME TO KEY: NAME installs TO under CONF, opened with a key whose id
# matches the extended regex KEY; TO is the new default deployment, with a deployed event;
# nothing is left behind
installed() {
	local conf=$1 name=$2 to=$3 key=$4 result
	result=$(engine "$conf" "$mnt/$name")
	g grep -qx 'exit 0' /run/engine.log || {
		g cat /run/engine.log
		fail "$name: not installed"
	}
	check_eq "$name: to_commit" "$(json_field "$result" to_commit)" "$to"
	grep -Eqx "$key" <<<"$(json_field "$result" key_id)" ||
		fail "$name: opened with '$(json_field "$result" key_id)', not $key"
	check_eq "$name: default deployment" "$(default_commit)" "$to"
	grep -q "$to" <<<"$(g journalctl -o cat MESSAGE_ID="$DEPLOYED_ID")" || fail "$name: no deployed event"
	check_eq "$name: left over" "$(left)" "dm: 0 loops: 0 mounts: 0 "
}

# The rekeyed bundle: the key it lost opens nothing on a device, the key it gained installs it.
g mkdir -p /etc/mediaupd/keys-old /etc/mediaupd/keys-new
"$VM" copy-in "$KEYS/main-2026.key" /etc/mediaupd/keys-old/main-2026.key
"$VM" copy-in "$rk/new-2028.key" /etc/mediaupd/keys-new/new-2028.key
# (new-2028.key was made by nobody on the host: the device takes only root's key files)
g chown root:root /etc/mediaupd/keys-old/main-2026.key /etc/mediaupd/keys-new/new-2028.key
g chmod 0600 /etc/mediaupd/keys-old/main-2026.key /etc/mediaupd/keys-new/new-2028.key
g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys-old' >$CONF_OLD"
g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys-new' >$CONF_NEW"
msg=$(REFUSE_CONF=$CONF_OLD refused rekeyed.enc NoKey)
result=$(g sh -c "grep '^{\"event\":\"result\"' /run/engine.log | tail -n 1")
[ "$(json_field "$result" key_trials)" -ge 1 ] || fail "rekeyed.enc: main-2026 was not tried"
g grep -q 'phase unlock' /run/engine.log || fail "rekeyed.enc: refused before unlock"
echo "ok: rekeyed.enc with only the removed key main-2026: NoKey, nothing changed ($msg)"
installed "$CONF_NEW" rekeyed.enc "$rekeyed_to" new-2028
echo "ok: rekeyed.enc installed with only the added key new-2028 ($rekeyed_to)"

# The bundle of the docs' recipe.
installed "$CONF_V2" hand-made.enc "$hand_to" 'main-2026|fallback-1'
echo "ok: the hand-made bundle (docs/bundle-format.md) installed ($hand_to)"

# The full update installs, and the board boots it.
t_full=$SECONDS
installed "$CONF_V2" full.enc "$full_to" 'main-2026|fallback-1'
say "full install: $((SECONDS - t_full)) s"
echo "ok: the full v2 bundle installed ($full_to)"
g udisksctl unmount -b /dev/sda1 >/dev/null
"$VM" unplug stick
t_boot=$SECONDS
"$VM" reboot
say "reboot: $((SECONDS - t_boot)) s"
check_eq "booted commit after the full v2 update" "$(booted_commit)" "$full_to"
check_eq "left over after the reboot" "$(left)" "dm: 0 loops: 0 mounts: 0 "
