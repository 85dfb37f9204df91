#!/bin/bash
# vm test 9: every refusal of the engine on the OSTree-booted guest, each fed exactly its bad
# input from an ext4 stick: only wrong keys, an unsigned delta, a signature by an unknown key,
# by a revoked key, a flipped byte in a part file and in the superblock, a bundle for another
# OS, a downgrade, a missing from-commit, a full sysroot, a corrupt LUKS header, a truncated
# bundle, a non-LUKS file, a symlink and a FIFO with a bundle's name. For each: the exit
# status, the error name, the 'refused' journal event, and that nothing changed (deployments,
# ref, boot configuration; no mapping, loop device or mount left).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"

REFUSED_ID=074dea9ae51f8bcec426499edd32dff9
FAILED_ID=6171ed3f47ee7550ef616de84e335ce1
m=$T_WORK/media
mkdir -p "$m"

# The image facts without booting: the bundles are made before the guest takes the machine.
eval "$("$VM" info)"
eng_repo

# Bundles the bundle maker makes, but that this device must refuse.
make_update "$m/good.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
make_update "$m/wrong-keys.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2" \
	--key rotation-2027="$KEYS/rotation-2027.key"
"$BUNDLE_TOOL" keygen --signing "$T_WORK/unknown" >/dev/null
make_update "$m/unknown-signer.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2" \
	--signing-key "$T_WORK/unknown.secret"
"$BUNDLE_TOOL" keygen --signing "$T_WORK/revoked" >/dev/null
make_update "$m/revoked-signer.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2" \
	--signing-key "$T_WORK/revoked.secret"
make_update "$m/missing-from.enc" --from "$VM_COMMIT_2" --to "$VM_COMMIT_3"
make_update "$m/full.enc" --empty --to "$VM_COMMIT_2"
other=$(eng_commit otheros/x86_64/main "$VM_COMMIT_2" 9.0 "$(date -u +%FT%TZ)" \
	--bind-ref=otheros/x86_64/main)
ENG_REF=otheros/x86_64/main make_update "$m/other-os.enc" --from "$VM_COMMIT_1" --to "$other"
old=$(eng_commit mediaupd-testos/x86_64/old "$VM_COMMIT_1" 0.9 2020-01-01T00:00:00Z \
	--bind-ref="$VM_REF")
ENG_REF=mediaupd-testos/x86_64/old make_update "$m/downgrade.enc" --from "$VM_COMMIT_1" \
	--to "$old"

# Hand-made bundles: what only a forger or a damaged copy would hold. In format 2 what is
# signed first is the bundle's header, so an unsigned bundle is one without it (refused before
# any key; the delta inside is never reached).
cp "$m/good.enc" "$m/unsigned.enc"
unsign "$m/unsigned.enc"
delta_dir "$T_WORK/flipped-part" --from="$VM_COMMIT_1" --to="$VM_COMMIT_2"
sign_dir "$T_WORK/flipped-part" "$KEYS/example-signing.secret"
part=$T_WORK/flipped-part/delta/0
flip_byte "$part" $(($(stat -c %s "$part") / 2))
pack_bundle "$T_WORK/flipped-part" "$m/flipped-part.enc"
delta_dir "$T_WORK/flipped-sb" --from="$VM_COMMIT_1" --to="$VM_COMMIT_2"
sign_dir "$T_WORK/flipped-sb" "$KEYS/example-signing.secret"
cp "$T_WORK/flipped-sb/delta/superblock" "$T_WORK/flipped-sb.signed"
flip_byte "$T_WORK/flipped-sb/delta/superblock" 200
# The signed header describes the genuine superblock; the image holds the flipped one.
pack_bundle "$T_WORK/flipped-sb" "$m/flipped-superblock.enc" "$T_WORK/flipped-sb.signed"
# Damaged copies of a good bundle: both LUKS2 header copies' JSON (64 KiB metadata areas, so
# at 4096 and 65536 + 4096), and a cut inside the header.
cp "$m/good.enc" "$m/corrupt-header.enc"
for off in 4096 69632; do
	dd if=/dev/zero of="$m/corrupt-header.enc" bs=1 seek="$off" count=512 conv=notrunc 2>/dev/null
done
! cmp -s "$m/good.enc" "$m/corrupt-header.enc" || fail "corrupt-header.enc equals good.enc"
head -c 100000 "$m/good.enc" >"$m/truncated.enc"
head -c 1048576 /dev/urandom >"$m/not-luks.enc"
ln -s good.enc "$m/symlink.enc"
mkfifo "$m/fifo.enc"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs ext4 "$m"/*

vm_up
guest_setup
"$VM" copy-in "$T_WORK/revoked.pub" /etc/ostree/trusted.ed25519.d/revoked.pub
"$VM" copy-in "$T_WORK/revoked.pub" /etc/ostree/revoked.ed25519.d/revoked.pub
plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 ext4 >/dev/null
g udisksctl mount -b /dev/sda1 -o ro,nosuid,nodev,noexec >/dev/null
mnt=$(g findmnt -n -o TARGET --source /dev/sda1 | head -n 1)
state >"$T_WORK/before"

# refused NAME ERROR [EVENT_ID]: applying NAME fails with ERROR, logs it as a 'refused'
# event (or EVENT_ID), and changes nothing
refused() {
	local name=$1 want=$2 event=${3:-$REFUSED_ID} result rc=0 events
	result=$(apply "$mnt/$name") || rc=$?
	[ "$rc" = 1 ] || fail "$name: expected exit status 1, got $rc ($result)"
	check_eq "$name: error" "$(json_field "$result" error)" "$want"
	events=$(g journalctl -o cat --output-fields=MEDIAUPD_ERROR,MEDIAUPD_BUNDLE \
		MESSAGE_ID="$event" MEDIAUPD_BUNDLE="$mnt/$name")
	grep -qx "$want" <<<"$events" || fail "$name: no journal event $event with $want"
	state >"$T_WORK/after"
	diff -u "$T_WORK/before" "$T_WORK/after" || fail "$name: the system changed"
	echo "ok: $name refused ($want: $(json_field "$result" message)); nothing changed"
}

refused wrong-keys.enc NoKey
refused unsigned.enc Unsigned
refused unknown-signer.enc SignatureInvalid
refused revoked-signer.enc KeyRevoked
refused flipped-part.enc CorruptDelta
refused flipped-superblock.enc SignatureInvalid
refused other-os.enc WrongOs
refused downgrade.enc Downgrade
refused missing-from.enc MissingFromCommit
refused corrupt-header.enc CorruptBundle
refused truncated.enc CorruptBundle
refused not-luks.enc NotABundle
refused symlink.enc NotABundle
refused fifo.enc NotABundle

# A full system partition: the check stops before anything is written. The bundle is
# fine, the device is not: a 'failed' event, not a 'refused' one.
free=$(g df --output=avail -B1 /sysroot | tail -n 1)
g fallocate -l $((free - 8 * 1024 * 1024)) /sysroot/mediaupd-fill
state >"$T_WORK/before"
refused good.enc NoSpace "$FAILED_ID"
g rm -f /sysroot/mediaupd-fill

# Interrupted: SIGTERM while libostree applies a full update stops it, and nothing changed.
state >"$T_WORK/before"
g sh -c "mediaupdctl apply --local '$mnt/full.enc' --json --config $GUEST_CONF >/run/cancel.out &
	pid=\$!
	until grep -q '\"phase\":\"apply\"' /run/cancel.out; do
		kill -0 \$pid 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM \$pid
	wait \$pid; echo \$? >/run/cancel.rc" || true
check_eq "interrupted: exit status" "$(g cat /run/cancel.rc)" 1
result=$(g tail -n 1 /run/cancel.out)
check_eq "interrupted: error" "$(json_field "$result" error)" Cancelled
check_eq "interrupted: phase" "$(json_field "$result" phase)" apply
state >"$T_WORK/after"
diff -u "$T_WORK/before" "$T_WORK/after" || fail "interrupted: the system changed"
echo "ok: an interrupted install changed nothing"

# The stick pulled while libostree applies: MediaRemoved (a 'failed' event: the bundle may be
# fine), nothing changed, nothing left mounted or mapped. Caches are dropped first so that the
# apply really reads from the stick.
state >"$T_WORK/before"
g sh -c "echo 3 >/proc/sys/vm/drop_caches
	(mediaupdctl apply --local '$mnt/full.enc' --json --config $GUEST_CONF >/run/pull.out
	 echo \$? >/run/pull.rc) >/dev/null 2>&1 &
	timeout 300 sh -c 'until grep -q \"phase.:.apply\" /run/pull.out; do sleep 0.05; done'"
"$VM" unplug stick
g timeout 300 sh -c 'until [ -s /run/pull.rc ]; do sleep 0.2; done'
check_eq "pulled: exit status" "$(g cat /run/pull.rc)" 1
result=$(g tail -n 1 /run/pull.out)
check_eq "pulled: error" "$(json_field "$result" error)" MediaRemoved
g journalctl -o cat --output-fields=MEDIAUPD_ERROR MESSAGE_ID="$FAILED_ID" \
	MEDIAUPD_BUNDLE="$mnt/full.enc" | grep -qx MediaRemoved ||
	fail "pulled: no 'failed' journal event with MediaRemoved"
state >"$T_WORK/after"
diff -u "$T_WORK/before" "$T_WORK/after" || fail "pulled: the system changed"
echo "ok: a stick pulled during apply changed nothing and left nothing behind"
plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 ext4 >/dev/null
g udisksctl mount -b /dev/sda1 -o ro,nosuid,nodev,noexec >/dev/null
mnt=$(g findmnt -n -o TARGET --source /dev/sda1 | head -n 1)

# The same good bundle still installs afterwards: the refusals left nothing in the way.
result=$(apply "$mnt/good.enc") || fail "the good bundle was refused after the refusals: $result"
check_eq "good bundle after the refusals" "$(default_commit)" "$VM_COMMIT_2"
