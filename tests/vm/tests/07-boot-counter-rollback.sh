#!/bin/bash
# vm test 7: boot counting by the daemon, with the harness playing U-Boot ([Boot]
# Backend=uboot, libubootenv on the guest's /etc/fw_env.config), in one boot sequence:
# - a 1→4 bundle (version 4's PID 1 exits at once, so the kernel panics): the daemon deploys it
#   and arms the counter (upgrade_available=1, bootcount=0). The board boots version 4 while
#   bootcount <= bootlimit, then altbootcmd boots version 1. At its start the daemon sees the
#   rollback: version 4 undeployed and blacklisted, the counter disarmed, a rolled-back event
#   with the failed commit and version, RolledBackFrom and Blacklist on D-Bus;
# - the same bundle again: Blacklisted, the system as it was;
# - a 1→2 bundle: deployed and armed; the reboot boots version 2, and reaching
#   mediaupd-boot-ok.target runs mediaupd-mark-good.service: the counter disarmed, version 2
#   the last good one.
# The build is installed for one boot only (tests/vm/tests/guest/install-daemon.sh), so after
# each reboot it is installed again before the daemon starts; its state in /var stays.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/daemon-lib.sh"

readonly ROLLED_BACK_ID=c47d0e91b3a84f2e8d65f0a2b19e7c34
readonly BLACKLISTED_ID=5e9a83c2d7f14b60b8c3a1e4f2d6097b

# ctl ARGS...: mediaupdctl ARGS in the guest; its stdout in OUT, its exit status in RC
ctl() {
	RC=0
	OUT=$(g mediaupdctl "$@") || RC=$?
}

# daemon_up: the build in place for this boot, the daemon started with the test's
# configuration (the unit's drop-in and the configuration are in /etc, which stays)
daemon_up() {
	daemon_install
	g systemctl daemon-reload
	g systemctl restart mediaupd.service
	daemon_wait_rest 60
}

vm_up
eng_repo
ostree --repo="$ENG_REPO" pull-local "$VM_REPO" "$VM_COMMIT_4" >/dev/null
guest_setup
daemon_install
daemon_conf '[Reboot]' 'Policy=never' '[Boot]' 'Backend=uboot'
# The U-Boot environment's device, which the shipped unit does not allow.
daemon_dropin 'DeviceAllow=/dev/vdb rw'
daemon_restart
limit=$(g fw_printenv -n bootlimit)
check_eq "BootBackend" "$(daemon_string BootBackend)" uboot

# --- a version that does not boot ------------------------------------------------------------
make_update "$T_WORK/b14.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_4"
"$VM" copy-in "$T_WORK/b14.enc" /var/tmp/b14.enc
ctl apply /var/tmp/b14.enc --json
[ "$RC" = 0 ] || fail "apply of the 1→4 bundle exited $RC: $OUT"
check_eq "default deployment after the install" "$(default_commit)" "$VM_COMMIT_4"
check_eq "upgrade_available after the install" "$(g fw_printenv -n upgrade_available)" 1
check_eq "bootcount after the install" "$(g fw_printenv -n bootcount)" 0
daemon_prop BootCounter | grep -q '^(buu) true 0 ' || fail "BootCounter: $(daemon_prop BootCounter)"
echo "ok: the daemon deployed version 4 and armed the counter"

boots_before=$(grep -c ' power on: ' "$MEDIAUPD_VM_RUN/boots.log")
"$VM" reboot
check_eq "booted commit after the fallback" "$(booted_commit)" "$VM_COMMIT_1"
since=$(awk -v n="$boots_before" '$3 == "power" && $2 > n' "$MEDIAUPD_VM_RUN/boots.log")
failed=$(grep -c -- '-> bootcmd' <<<"$since" || true)
check_eq "boots of version 4 before the fallback" "$failed" "$limit"
grep -q -- '-> altbootcmd' <<<"$since" || fail "the boot loader never ran altbootcmd"
check_eq "bootcount seen by the guest" "$(g fw_printenv -n bootcount)" $((limit + 1))

daemon_up
check_eq "upgrade_available after the rollback" "$(g fw_printenv -n upgrade_available)" 0
check_eq "default deployment after the rollback" "$(default_commit)" "$VM_COMMIT_1"
! g ostree admin status | grep -q "$VM_COMMIT_4" || fail "version 4 is still deployed"
daemon_prop RolledBackFrom | grep -qx "(ss) \"$VM_COMMIT_4\" \"4\"" ||
	fail "RolledBackFrom: $(daemon_prop RolledBackFrom)"
daemon_prop Blacklist | grep -qx "as 1 \"$VM_COMMIT_4\"" || fail "Blacklist: $(daemon_prop Blacklist)"
daemon_events "$ROLLED_BACK_ID" | grep -q "commit $VM_COMMIT_4 (version 4) did not boot" ||
	fail "no rolled-back event for version 4"
g journalctl --no-pager -b MESSAGE_ID="$ROLLED_BACK_ID" -o export |
	grep -qx "MEDIAUPD_COMMIT=$VM_COMMIT_4" || fail "the rolled-back event lacks MEDIAUPD_COMMIT"
ctl status --json
grep -q "\"blacklist\":\[\"$VM_COMMIT_4\"\]" <<<"$OUT" || fail "status --json: $OUT"
echo "ok: version 4 rolled back: undeployed, blacklisted, counter disarmed"

# --- the same bundle again ---------------------------------------------------------------------
before=$(state)
ctl apply /var/tmp/b14.enc --json
[ "$RC" != 0 ] || fail "the blacklisted bundle was accepted"
grep -q '"dbus_error":"org.mediaupd.Error.Blacklisted"' <<<"$OUT" || fail "not Blacklisted: $OUT"
check_eq "state after the refusal" "$(state)" "$before"
daemon_events "$BLACKLISTED_ID" | grep -q "$VM_COMMIT_4" || fail "no blacklisted-refused event"
echo "ok: the same bundle again is Blacklisted, nothing changed"

# --- a good update -----------------------------------------------------------------------------
make_update "$T_WORK/b12.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
"$VM" copy-in "$T_WORK/b12.enc" /var/tmp/b12.enc
ctl apply /var/tmp/b12.enc --json
[ "$RC" = 0 ] || fail "apply of the 1→2 bundle exited $RC: $OUT"
check_eq "upgrade_available after the good install" "$(g fw_printenv -n upgrade_available)" 1
"$VM" reboot
check_eq "booted commit after the good update" "$(booted_commit)" "$VM_COMMIT_2"
check_eq "bootcount during the trial" "$(g fw_printenv -n bootcount)" 1
daemon_up
# What the boot reaches once the build is in place: the "booted fine" target.
g systemctl start mediaupd-boot-ok.target
g timeout 60 sh -c 'until systemctl is-active --quiet mediaupd-mark-good.service; do sleep 0.2; done' ||
	fail "mediaupd-mark-good.service did not run: $(g systemctl status --no-pager mediaupd-mark-good.service 2>&1 | tail -n 5)"
check_eq "upgrade_available after the good boot" "$(g fw_printenv -n upgrade_available)" 0
check_eq "LastGoodCommit" "$(daemon_string LastGoodCommit)" "$VM_COMMIT_2"
check_eq "PendingCommit after mark-good" "$(daemon_string PendingCommit)" ""
echo "ok: version 2 booted and was marked good, the counter disarmed"
