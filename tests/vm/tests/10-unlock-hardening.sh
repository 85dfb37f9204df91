#!/bin/bash
# vm test 10: what the unlock phase lets the kernel and libcryptsetup see, on the OSTree-booted
# guest, one boot: an ext4 inner image refused by default; a keyslot holding the volume key in
# clear (cipher_null) refused before any key trial; argon2id keyslots needing more memory than
# the guest has never tried; an ext4 image marked errors=panic with a damaged inode fails
# cleanly and the guest lives on; while an install is paused (SIGSTOP) its dm-crypt mapping is
# private (no ID_FS_TYPE in udev, no filesystem in udisks2, unlike a mapping opened by hand)
# and its mount is ro,nosuid,nodev,noexec,nosymfollow; the same install SIGKILLed leaves a
# mount, its dm-crypt and dm-verity mappings and a loop device that mu_unlock_cleanup_stale
# removes; then an erofs v1->v2 and an ext4 (enabled) v1->v3 bundle install, each timed.
# The bundles are format v2: the crafted keyslots sit outside the signed header, as a forger
# would put them.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"

REFUSED_ID=074dea9ae51f8bcec426499edd32dff9
CONF_EXT4=/etc/mediaupd/ext4.conf
CONF_MEM=/etc/mediaupd/memory.conf
EDIT=$SRC_ROOT/tests/unit/luks2-edit.py
m=$T_WORK/media
mkdir -p "$m"

# crafted SRC OUT EDIT-ARGS...: SRC with its LUKS2 header rewritten, asserted to differ
crafted() {
	local src=$1 out=$2
	shift 2
	cp "$src" "$out"
	python3 "$EDIT" "$out" "$@"
	cmp -s "$src" "$out" && fail "$out: the crafted bundle is the same as $src"
	return 0
}

# The image facts without booting: the bundles are made before the guest takes the machine.
eval "$("$VM" info)"
eng_repo
make_update "$m/good.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
make_update "$m/ext4.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_3" --fs ext4
make_update "$m/full.enc" --empty --to "$VM_COMMIT_3"

# Keyslot 0 (main-2026) holding the volume key in clear, marked cipher_null-ecb.
cryptsetup luksDump --dump-volume-key --volume-key-file "$T_WORK/vk" --batch-mode \
	--key-file "$KEYS/main-2026.key" --disable-locks "$m/good.enc" >/dev/null
crafted "$m/good.enc" "$m/cipher-null.enc" --null-keyslot 0 --volume-key "$T_WORK/vk"
rm -f "$T_WORK/vk"
# Both keyslots argon2id with 4 GiB: within a configured limit, beyond the guest's 1 GiB.
kdf='{"type":"argon2id","time":4,"memory":4194304,"cpus":1,"salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}'
crafted "$m/good.enc" "$m/argon2-4g.enc" --set "keyslots.0.kdf=$kdf" --set "keyslots.1.kdf=$kdf"

# An ext4 image that asks for a panic on any error, with the inode of delta/superblock damaged
# (its checksum no longer matches): the first read of the delta hits it.
delta_dir "$T_WORK/panic" --from="$VM_COMMIT_1" --to="$VM_COMMIT_2"
sign_dir "$T_WORK/panic" "$KEYS/example-signing.secret"
img=$T_WORK/panic.img
mke2fs -q -t ext4 -b 4096 -E root_owner=0:0 -d "$T_WORK/panic" "$img" \
	$(($(du -sk "$T_WORK/panic" | cut -f1) / 4 + 2048))
tune2fs -e panic "$img" >/dev/null
dumpe2fs -h "$img" 2>/dev/null | grep -q '^Errors behavior: *Panic' || fail "tune2fs -e panic"
loc=$(debugfs -R "imap /delta/superblock" "$img" 2>/dev/null | sed -n 's/.*located at block \([0-9]*\), offset \(0x[0-9a-f]*\).*/\1 \2/p')
[ -n "$loc" ] || fail "cannot locate the inode of delta/superblock in $img"
read -r blk off <<<"$loc"
pos=$((blk * 4096 + off + 40))
cp "$img" "$img.orig"
byte=$(od -An -tu1 -j "$pos" -N1 "$img" | tr -d ' ')
printf '%b' "\\$(printf '%03o' $((byte ^ 0xff)))" | dd of="$img" bs=1 seek="$pos" conv=notrunc 2>/dev/null
cmp -s "$img" "$img.orig" && fail "the damaged ext4 image is the same as the good one"
pack_image "$img" "$m/ext4-panic.enc" "$T_WORK/panic/delta/superblock"
rm -f "$img" "$img.orig"

"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs ext4 "$m"/*
vm_up
guest_setup
g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' \
	'[Unlock]' 'Filesystems=erofs;squashfs;ext4' >$CONF_EXT4"
g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' \
	'[Unlock]' 'MaxArgon2MemoryKiB=4194304' >$CONF_MEM"
plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 ext4 >/dev/null
g udisksctl mount -b /dev/sda1 -o ro,nosuid,nodev,noexec >/dev/null
mnt=$(g findmnt -n -o TARGET --source /dev/sda1 | head -n 1)
boot_id=$(g cat /proc/sys/kernel/random/boot_id)
state >"$T_WORK/before"

# apply_with CONF BUNDLE_PATH: like apply, with another configuration
apply_with() {
	g mediaupdctl apply --local "$2" --json --config "$1" | tail -n 1
}

# loops NAME: loop devices whose backing file is the bundle NAME on the stick
loops() { g sh -c "losetup -n -O BACK-FILE | grep -c '/$1\$' || true"; }

# refused NAME ERROR CONF EVENT_ID: applying NAME fails with ERROR, logs it with EVENT_ID, and
# changes nothing; prints the message
refused() {
	local name=$1 want=$2 conf=$3 event=$4 result rc=0 events
	result=$(apply_with "$conf" "$mnt/$name") || rc=$?
	[ "$rc" = 1 ] || fail "$name: expected exit status 1, got $rc ($result)"
	check_eq "$name: error" "$(json_field "$result" error)" "$want" >&2
	events=$(g journalctl -o cat --output-fields=MEDIAUPD_ERROR MESSAGE_ID="$event" \
		MEDIAUPD_BUNDLE="$mnt/$name")
	grep -qx "$want" <<<"$events" || fail "$name: no journal event $event with $want"
	state >"$T_WORK/after"
	diff -u "$T_WORK/before" "$T_WORK/after" || fail "$name: the system changed"
	json_field "$result" message
}

msg=$(refused ext4.enc UnsupportedFormat "$GUEST_CONF" "$REFUSED_ID")
grep -q "accepts only erofs, squashfs" <<<"$msg" || fail "ext4.enc: unclear message: $msg"
echo "ok: an ext4 bundle is refused by default ($msg); nothing changed"

msg=$(refused cipher-null.enc CorruptBundle "$GUEST_CONF" "$REFUSED_ID")
grep -q "keyslot 0 unencrypted" <<<"$msg" || fail "cipher-null.enc: unclear message: $msg"
echo "ok: a cipher_null keyslot is refused before any key trial ($msg); nothing changed"

msg=$(refused argon2-4g.enc NoKey "$CONF_MEM" "$REFUSED_ID")
grep -q "its slot 0: not enough memory" <<<"$msg" || fail "argon2-4g.enc: $msg"
g journalctl -o cat -t mediaupd | grep -q "not trying keyslot 1: its PBKDF needs 4194304 KiB" ||
	fail "argon2-4g.enc: the engine did not log that keyslot 1 was not tried"
echo "ok: argon2id keyslots needing 4 GiB are not tried on a 1 GiB guest ($msg)"

# errors=panic in the image, one damaged inode: the kernel reports the error, the mount only
# turns (stays) read-only, the install fails, the guest lives.
result=$(apply_with "$CONF_EXT4" "$mnt/ext4-panic.enc") && fail "ext4-panic.enc installed"
say "$result"
[ -n "$(json_field "$result" error)" ] || fail "ext4-panic.enc: no error in $result"
check_eq "guest alive after ext4-panic.enc (boot id)" "$(g cat /proc/sys/kernel/random/boot_id)" \
	"$boot_id"
g journalctl -k -o cat | grep -q "EXT4-fs error" ||
	fail "ext4-panic.enc: the kernel never met the damaged inode (no EXT4-fs error)"
state >"$T_WORK/after"
diff -u "$T_WORK/before" "$T_WORK/after" || fail "ext4-panic.enc: the system changed"
echo "ok: ext4 errors=panic with a damaged inode: $(json_field "$result" error), no panic, nothing changed"

# An install paused while it applies (mapped and mounted): the mapping is private.
g sh -c "mediaupdctl apply --local '$mnt/full.enc' --json --config $GUEST_CONF \
		>/run/paused.out 2>/run/paused.err &
	echo \$! >/run/paused.pid
	timeout 300 sh -c 'until grep -q \"phase.:.apply\" /run/paused.out; do sleep 0.05; done'
	kill -STOP \$(cat /run/paused.pid)"
pid=$(g cat /run/paused.pid)
# A format 2 install has two mappings: dm-verity over the ciphertext, dm-crypt on top.
dm=$(g sh -c "dmsetup ls | awk '/^mediaupd-/ && !/^mediaupd-verity-/ { print \$1 }'")
[ "$(wc -w <<<"$dm")" = 1 ] || fail "paused: expected one mediaupd dm-crypt mapping, got '$dm'"
verity=$(g sh -c "dmsetup ls | awk '/^mediaupd-verity-/ { print \$1 }'")
[ "$(wc -w <<<"$verity")" = 1 ] || fail "paused: expected one mediaupd dm-verity mapping, got '$verity'"
check_eq "paused: target of $verity" "$(g dmsetup table "$verity" | awk '{ print $3 }')" verity
dmdev=$(g sh -c "basename \$(readlink -f /dev/mapper/$dm)")
opts=$(g findmnt -n -o OPTIONS --source "/dev/mapper/$dm")
for o in ro nosuid nodev noexec nosymfollow; do
	tr ',' '\n' <<<"$opts" | grep -qx "$o" || fail "paused: mount options '$opts' lack $o"
done
echo "ok: paused: the inner mount is $opts"
# A mapping opened by hand, not private, after ours: udev probes it and udisks2 publishes it,
# which also shows that udisks2 has handled the events up to ours.
g cryptsetup open --readonly --key-file /etc/mediaupd/keys/main-2026.key "$mnt/good.enc" \
	mu-control
g udevadm settle
g udevadm info /dev/mapper/mu-control | grep -q 'ID_FS_TYPE=erofs' ||
	fail "control: udev did not probe a public mapping"
g timeout 20 sh -c "until udisksctl info -b /dev/mapper/mu-control | grep -q 'IdType: *erofs'; do
	sleep 0.2; done" || fail "control: udisks2 did not publish a public mapping"
g cryptsetup close mu-control
echo "ok: control: a mapping opened by hand shows ID_FS_TYPE=erofs in udev and udisks2"
g udevadm info "/dev/mapper/$dm" >"$T_WORK/udev"
grep -q 'ID_FS_TYPE' "$T_WORK/udev" && fail "paused: udev probed the private mapping"
grep -q 'DM_UDEV_DISABLE_OTHER_RULES_FLAG=1' "$T_WORK/udev" ||
	fail "paused: the mapping is not flagged private for udev rules"
# udisks2 either has no object for the mapping at all, or one without a filesystem.
if g udisksctl info -b "/dev/$dmdev" >"$T_WORK/udisks" 2>&1; then
	grep -q 'org.freedesktop.UDisks2.Filesystem:' "$T_WORK/udisks" &&
		fail "paused: udisks2 lists a filesystem on the private mapping"
	grep -q 'IdType: *[a-z]' "$T_WORK/udisks" && fail "paused: udisks2 knows the mapping's type"
	seen="an object without a filesystem"
else
	grep -q 'Error looking up object for device' "$T_WORK/udisks" ||
		fail "paused: udisksctl info failed: $(cat "$T_WORK/udisks")"
	seen="no object"
fi
g udisksctl dump | grep -q 'IdType: *erofs' && fail "paused: udisks2 lists an erofs filesystem"
echo "ok: paused: $dm ($dmdev) has no ID_FS_TYPE in udev, and udisks2 has $seen for it"

# Killed there: mount, mapping and loop device stay behind; the startup cleanup removes them,
# the mount first.
g kill -KILL "$pid"
g timeout 10 sh -c "while kill -0 $pid 2>/dev/null; do sleep 0.1; done"
state >"$T_WORK/killed"
grep -q "^dm: 2\$" "$T_WORK/killed" || fail "killed: expected two leftover mappings"
grep -q "^mounts: 1\$" "$T_WORK/killed" || fail "killed: expected one leftover mount"
check_eq "killed: loop devices over full.enc" "$(loops full.enc)" 1
mountpoint=$(g findmnt -n -o TARGET --source "/dev/mapper/$dm")
echo "ok: killed: $dm mounted on $mountpoint, $verity under it and the loop device are left"
out=$(g mediaupd-test-cleanup-stale 2>&1)
say "$out"
grep -q "unmounted stale mount $mountpoint" <<<"$out" || fail "cleanup: no unmount"
grep -q "closed stale mapping $dm" <<<"$out" || fail "cleanup: dm-crypt mapping not closed"
grep -q "closed stale mapping $verity" <<<"$out" || fail "cleanup: dm-verity mapping not closed"
g test ! -e "$mountpoint" || fail "cleanup: the mount point $mountpoint is left"
check_eq "cleanup: loop devices over full.enc" "$(loops full.enc)" 0
state >"$T_WORK/after"
diff -u "$T_WORK/before" "$T_WORK/after" || fail "cleanup: something is left or changed"
echo "ok: cleanup removed the mount, both mappings and the loop device of the killed install"

# Installs that must work, timed: the format's erofs v1->v2, and ext4 once enabled.
t0=$(date +%s.%N)
result=$(apply "$mnt/good.enc") || fail "good.enc refused: $result"
t1=$(date +%s.%N)
check_eq "good.enc to_commit" "$(json_field "$result" to_commit)" "$VM_COMMIT_2"
echo "ok: erofs v1->v2 installed in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
t0=$(date +%s.%N)
result=$(apply_with "$CONF_EXT4" "$mnt/ext4.enc") || fail "ext4.enc refused when enabled: $result"
t1=$(date +%s.%N)
check_eq "ext4.enc to_commit" "$(json_field "$result" to_commit)" "$VM_COMMIT_3"
check_eq "default deployment" "$(default_commit)" "$VM_COMMIT_3"
echo "ok: ext4 v1->v3 installed when enabled in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
state >"$T_WORK/after"
for what in dm mounts; do
	grep -q "^$what: 0\$" "$T_WORK/after" || fail "after the installs: $what left"
done
check_eq "loop devices over ext4.enc" "$(loops ext4.enc)" 0
echo "ok: nothing left mounted or mapped"
