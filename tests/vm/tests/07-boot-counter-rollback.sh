#!/bin/bash
# vm test 7: boot counting by the daemon, with the harness playing U-Boot ([Boot]
# Backend=uboot, libubootenv on the guest's /etc/fw_env.config), in one boot sequence. The
# daemon's worker arms the counter (upgrade_available=1, bootcount=0) before its deploy can
# make the new deployment the default. Each case is checked on the board's record
# (boots.log: what U-Boot read and chose at each power-on), fw_printenv, ostree admin status
# and the daemon's D-Bus properties:
# - a 1→4 bundle (version 4's PID 1 exits at once, so the kernel panics): deployed and armed.
#   The board boots version 4 while bootcount <= bootlimit, then altbootcmd boots version 1.
#   At its start the daemon sees the rollback: version 4 undeployed and blacklisted, the
#   counter disarmed, a rolled-back event with the failed commit and version, RolledBackFrom
#   and Blacklist on D-Bus;
# - the same bundle again: Blacklisted, the system as it was;
# - a power cut with the counter armed and the deploy not written yet (a 1→2 install held at
#   the test hook's "armed" point): the board counts a boot (bootcount=1) and boots version
#   1, the only deployment; at its start the daemon aborts the trial: counter disarmed,
#   nothing pending, nothing blacklisted but 4, a trial-aborted event;
# - a power cut after the deploy was written, before the worker reported (held at
#   "deployed"): the board boots version 2 armed (bootcount=1); the daemon sees the trial
#   (BootCounter armed, no PendingCommit), and reaching mediaupd-boot-ok.target runs
#   mediaupd-mark-good.service: the counter disarmed, version 2 the last good one;
# - a 2→3 install that completes (armed, pending-reboot), then a power cut a few seconds into
#   the first boot of version 3: the board boots old or new (with bootlimit 2, version 3
#   again, bootcount=2), never neither, and what the daemon reports matches what booted;
#   marked good as above.
# The build is installed for one boot only (tests/vm/tests/guest/install-daemon.sh), so after
# each reboot it is installed again before the daemon starts; its state in /var stays.
# Needs a build with -Dtest_hooks=true (MEDIAUPD_TEST_PAUSE_AT).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/daemon-lib.sh"

readonly ROLLED_BACK_ID=c47d0e91b3a84f2e8d65f0a2b19e7c34
readonly BLACKLISTED_ID=5e9a83c2d7f14b60b8c3a1e4f2d6097b
readonly ARMED_ID=3f1c2b8e6d0a4c59a2e7b41d9c06f853
readonly ABORTED_ID=5b8e2d74a1c94f06b3d97e0c6a12f4d8
readonly DEVICE_ALLOW='DeviceAllow=/dev/vdb rw'

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

# last_boots N: the board's boots.log lines of power-on N and those after it
last_boots() {
	awk -v from="$1" '$2 + 0 >= from + 0' "$MEDIAUPD_VM_RUN/boots.log"
}

# boot_no: the board's number of the power-on running now
boot_no() { awk '$3 == "ready" { n = $2 } END { print n }' "$MEDIAUPD_VM_RUN/boots.log"; }

# held_install BUNDLE POINT: the daemon installs BUNDLE (mediaupdctl apply, in the
# background) and its worker stops itself at POINT; prints the worker's PID
held_install() {
	daemon_dropin "$DEVICE_ALLOW" "Environment=MEDIAUPD_TEST_PAUSE_AT=$2"
	daemon_restart
	g systemd-run --quiet --unit="apply-held-$2" mediaupdctl apply "$1" --json
	daemon_wait_worker_stopped
}

# mark_good: what the boot reaches once the build is in place: the "booted fine" target
mark_good() {
	g systemctl start mediaupd-boot-ok.target
	g timeout 60 sh -c 'until systemctl is-active --quiet mediaupd-mark-good.service; do sleep 0.2; done' ||
		fail "mediaupd-mark-good.service did not run: $(g systemctl status --no-pager mediaupd-mark-good.service 2>&1 | tail -n 5)"
}

# cut_armed_held COMMIT WHAT: the power cut while the held install's counter is armed; the
# board sees the armed counter (bootcount=1) at the next power-on and boots COMMIT; the build
# is put in place again and the daemon started
cut_armed_held() {
	local commit=$1 what=$2 n boots
	n=$(($(boot_no) + 1))
	"$VM" powercut
	boots=$(last_boots "$n")
	say "boots after the cut $what: $boots"
	grep -q "^.* $n power on: upgrade_available=1 bootcount=1 bootlimit=$limit -> bootcmd" <<<"$boots" ||
		fail "the board did not see the armed counter at the power-on after the cut: $boots"
	grep -q " $n ready .* commit=$commit" <<<"$boots" || fail "$commit did not boot: $boots"
	check_eq "booted commit after the cut $what" "$(booted_commit)" "$commit"
	daemon_dropin "$DEVICE_ALLOW"
	daemon_up
}

vm_up
eng_repo
ostree --repo="$ENG_REPO" pull-local "$VM_REPO" "$VM_COMMIT_4" >/dev/null
guest_setup
daemon_install
daemon_conf '[Reboot]' 'Policy=never' '[Boot]' 'Backend=uboot'
# The U-Boot environment's device, which the shipped unit does not allow.
daemon_dropin "$DEVICE_ALLOW"
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

# --- a power cut between the arming and the deploy ----------------------------------------
make_update "$T_WORK/b12.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
"$VM" copy-in "$T_WORK/b12.enc" /var/tmp/b12.enc
held_install /var/tmp/b12.enc armed >/dev/null
check_eq "upgrade_available held after the arming" "$(g fw_printenv -n upgrade_available)" 1
check_eq "default deployment held after the arming" "$(default_commit)" "$VM_COMMIT_1"
g grep -qx "Commit=$VM_COMMIT_2" /var/lib/mediaupd/state || fail "no pending record before the deploy"
daemon_events "$ARMED_ID" | grep -q "$VM_COMMIT_2" || fail "no boot-armed event before the deploy"
cut_armed_held "$VM_COMMIT_1" "before the deploy"
check_eq "upgrade_available after the aborted trial" "$(g fw_printenv -n upgrade_available)" 0
check_eq "bootcount after the aborted trial" "$(g fw_printenv -n bootcount)" 0
daemon_prop BootCounter | grep -q '^(buu) false 0 ' || fail "BootCounter: $(daemon_prop BootCounter)"
check_eq "PendingCommit after the aborted trial" "$(daemon_string PendingCommit)" ""
! g ostree admin status | grep -q "$VM_COMMIT_2" || fail "version 2 is deployed"
daemon_prop Blacklist | grep -qx "as 1 \"$VM_COMMIT_4\"" || fail "Blacklist: $(daemon_prop Blacklist)"
daemon_prop RolledBackFrom | grep -qx "(ss) \"$VM_COMMIT_4\" \"4\"" ||
	fail "RolledBackFrom: $(daemon_prop RolledBackFrom)"
! g grep -q "^Commit=" /var/lib/mediaupd/state || fail "still pending: $(g cat /var/lib/mediaupd/state)"
daemon_events "$ABORTED_ID" | grep -q "armed for commit $VM_COMMIT_2 .* never deployed" ||
	fail "no trial-aborted event for version 2"
ctl status --json
grep -q '"pending_commit":null' <<<"$OUT" || fail "status --json: $OUT"
echo "ok: cut after the arming, before the deploy: version 1 boots, trial aborted, nothing blacklisted"

# --- a power cut after the deploy, before the worker reported --------------------------------
held_install /var/tmp/b12.enc deployed >/dev/null
check_eq "default deployment held after the deploy" "$(default_commit)" "$VM_COMMIT_2"
check_eq "upgrade_available held after the deploy" "$(g fw_printenv -n upgrade_available)" 1
cut_armed_held "$VM_COMMIT_2" "after the deploy"
daemon_prop BootCounter | grep -q '^(buu) true 1 ' || fail "BootCounter: $(daemon_prop BootCounter)"
check_eq "PendingCommit on the trial" "$(daemon_string PendingCommit)" ""
check_eq "CurrentCommit on the trial" "$(daemon_string CurrentCommit)" "$VM_COMMIT_2"
mark_good
check_eq "upgrade_available after the good boot" "$(g fw_printenv -n upgrade_available)" 0
check_eq "LastGoodCommit" "$(daemon_string LastGoodCommit)" "$VM_COMMIT_2"
daemon_prop BootCounter | grep -q '^(buu) false 0 ' || fail "BootCounter: $(daemon_prop BootCounter)"
[ -z "$(daemon_events "$ABORTED_ID" | grep "$VM_COMMIT_2" || true)" ] ||
	fail "a trial-aborted event for the deployed version 2"
echo "ok: cut after the deploy: version 2 boots armed and is marked good"

# --- a power cut during the first boot of the new version ------------------------------------
make_update "$T_WORK/b23.enc" --from "$VM_COMMIT_2" --to "$VM_COMMIT_3"
"$VM" copy-in "$T_WORK/b23.enc" /var/tmp/b23.enc
ctl apply /var/tmp/b23.enc --json
[ "$RC" = 0 ] || fail "apply of the 2→3 bundle exited $RC: $OUT"
check_eq "upgrade_available after the install" "$(g fw_printenv -n upgrade_available)" 1
check_eq "PendingCommit after the install" "$(daemon_string PendingCommit)" "$VM_COMMIT_3"
check_eq "State after the install" "$(daemon_string State)" pending-reboot
n=$(($(boot_no) + 1))
"$VM" reboot --cut-after 5
boots=$(last_boots "$n")
say "boots after the reboot: $boots"
grep -q " $n power on: upgrade_available=1 bootcount=1 bootlimit=$limit -> bootcmd" <<<"$boots" ||
	fail "the first boot of version 3 was not armed: $boots"
grep -q " $n ready" <<<"$boots" && fail "the cut boot came up: $boots"
grep -q " $n off" <<<"$boots" || fail "the cut boot did not end: $boots"
booted=$(booted_commit)
daemon_up
check_eq "CurrentCommit after the cut boot" "$(daemon_string CurrentCommit)" "$booted"
case $booted in
"$VM_COMMIT_3")
	# bootlimit 2: the second boot of version 3 is still within it
	grep -q " $((n + 1)) power on: upgrade_available=1 bootcount=2 bootlimit=$limit -> bootcmd" <<<"$boots" ||
		fail "not the second armed boot of version 3: $boots"
	daemon_prop BootCounter | grep -q '^(buu) true 2 ' || fail "BootCounter: $(daemon_prop BootCounter)"
	check_eq "PendingCommit on the trial of 3" "$(daemon_string PendingCommit)" ""
	mark_good
	check_eq "upgrade_available after version 3 was marked good" "$(g fw_printenv -n upgrade_available)" 0
	check_eq "LastGoodCommit" "$(daemon_string LastGoodCommit)" "$VM_COMMIT_3"
	echo "ok: cut during the first boot of version 3: version 3 boots again and is marked good"
	;;
"$VM_COMMIT_2")
	grep -q -- '-> altbootcmd' <<<"$boots" || fail "version 2 booted without altbootcmd: $boots"
	daemon_prop RolledBackFrom | grep -q "\"$VM_COMMIT_3\"" ||
		fail "RolledBackFrom: $(daemon_prop RolledBackFrom)"
	check_eq "upgrade_available after the fallback" "$(g fw_printenv -n upgrade_available)" 0
	echo "ok: cut during the first boot of version 3: version 2 boots, rolled back from 3"
	;;
*) fail "after the cut boot neither version 2 nor 3 runs: $booted ($boots)" ;;
esac
