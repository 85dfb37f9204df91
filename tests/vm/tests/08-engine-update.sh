#!/bin/bash
# vm test 8: the engine installs bundles on the OSTree-booted guest with real loop, dm-crypt,
# udisks2 and libostree (`mediaupdctl apply --local`): a v1 -> v2 delta bundle from a USB
# stick becomes the new default deployment with a local /etc change kept and the ref moved,
# the guest reboots into v2; then a full (--empty) bundle of v3 does the same. Nothing is
# left mounted or mapped after either install.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"

# The image facts without booting: the bundles are made before the guest takes the machine.
eval "$("$VM" info)"
eng_repo
make_update "$T_WORK/delta.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
make_update "$T_WORK/full.enc" --empty --to "$VM_COMMIT_3"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs vfat "$T_WORK/delta.enc" \
	"$T_WORK/full.enc"
vm_up
guest_setup
g sh -c 'echo kept >/etc/mediaupd-local-change'
check_eq "booted commit" "$(booted_commit)" "$VM_COMMIT_1"

# install_from_stick BUNDLE_NAME TO_COMMIT: plug, mount read-only, apply, check, unplug
install_from_stick() {
	local name=$1 to=$2 mnt result
	plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 vfat >/dev/null
	g udisksctl mount -b /dev/sda1 -o ro,nosuid,nodev,noexec >/dev/null
	mnt=$(g findmnt -n -o TARGET --source /dev/sda1 | head -n 1)
	local t0 t1
	t0=$(date +%s%N)
	result=$(apply "$mnt/$name") || fail "the engine refused $name: $result"
	t1=$(date +%s%N)
	# The whole install as seen from the host, and the apply phase as the engine logs it.
	say "install of $name took $(((t1 - t0) / 1000000)) ms; $(g journalctl -o cat \
		MESSAGE_ID=7abdbd5b2608995c8fa3ed490f1625fa | tail -n 1)"
	say "$result"
	check_eq "success" "$(json_field "$result" success)" True
	check_eq "to_commit" "$(json_field "$result" to_commit)" "$to"
	check_eq "opened with" "$(json_field "$result" key_id)" fallback-1
	check_eq "default deployment" "$(default_commit)" "$to"
	check_eq "ref" "$(g ostree rev-parse "$VM_REF")" "$to"
	state >"$T_WORK/state"
	grep -q '^dm: 0$' "$T_WORK/state" || fail "a dm-crypt mapping was left"
	grep -q '^loops: 0$' "$T_WORK/state" || fail "a loop device was left"
	grep -q '^mounts: 0$' "$T_WORK/state" || fail "a mount under /run/mediaupd was left"
	echo "ok: no mapping, loop device or mount left"
	g journalctl -o cat MESSAGE_ID=a4e6b84b811cddf92a52a9a044444c78 | grep -q "$to" ||
		fail "no 'deployed' journal event for $to"
	echo "ok: 'deployed' journal event for $to"
	g udisksctl unmount -b /dev/sda1 >/dev/null
	"$VM" unplug stick
}

install_from_stick delta.enc "$VM_COMMIT_2"
g sh -c "cat /ostree/deploy/$VM_OS/deploy/$VM_COMMIT_2.*/etc/mediaupd-local-change" |
	grep -qx kept || fail "the local /etc change was not carried into the new deployment"
echo "ok: local /etc change carried over"
"$VM" reboot
check_eq "booted commit after reboot" "$(booted_commit)" "$VM_COMMIT_2"
check_eq "local /etc change after reboot" "$(g cat /etc/mediaupd-local-change)" kept

install_from_stick full.enc "$VM_COMMIT_3"
"$VM" reboot
check_eq "booted commit after the full update" "$(booted_commit)" "$VM_COMMIT_3"
