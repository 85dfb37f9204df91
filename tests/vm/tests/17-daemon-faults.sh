#!/bin/bash
# vm test 17: the daemon's fault cases that vm test 15 leaves out, in one boot, each with its
# outcome and the system otherwise as it was (deployments, pending commit, no mount, mapping
# or loop device left, the daemon active or cleanly stopped):
# - two media: a USB stick (1→2) held in apply, an SD card (1→3) inserted meanwhile is in
#   QueuedMedia; udisks2 restarted meanwhile changes neither; once the first install ends the
#   second runs, and both are deployed in turn (journal: 2 before 3);
# - the stick pulled while the worker is held at the start of deploy (before the deployment
#   is written): MediaRemoved, nothing deployed;
# - `systemctl stop mediaupd` (SIGTERM) while the worker is held in apply: the daemon stays
#   up (deactivating) until the worker is let go, then stops at the safe point with status 0
#   (unit inactive, not failed), nothing deployed, nothing left;
# - D-Bus activation: with the daemon stopped, a property read (busctl) and `mediaupdctl
#   status` each start it; then a plug starts it through udev and it installs (1→4);
# - with an agent registered (`mediaupdctl watch --agent --exit-on-completed`) and the default
#   reboot policy (after-removal), a 1→5 stick: the watcher sees Completed, State is
#   pending-reboot, and the device does not reboot when the stick is pulled.
# Versions 4 and 5 are the tree of 3, newer commits. Needs a build with -Dtest_hooks=true
# (MEDIAUPD_TEST_PAUSE_AT).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/daemon-lib.sh"

UDISKS_BLOCK=/org/freedesktop/UDisks2/block_devices

# error_name: the D-Bus error name of LastError
error_name() { daemon_last_error | cut -d'"' -f2; }
# deployments: how many deployments there are
deployments() { g ostree admin status | grep -c '^[* ] [^ ]'; }
# gone DEVICE: until the device node is gone (a pulled stick, an ejected card)
gone() {
	g timeout 20 sh -c "while [ -e $1 ]; do sleep 0.1; done" || fail "$1 did not go"
}
# wait_pending COMMIT [SECONDS]: until PendingCommit is COMMIT
wait_pending() {
	g timeout "${2:-600}" sh -c "until [ \"\$(busctl get-property ${DAEMON_BUS[*]} PendingCommit 2>/dev/null)\" = 's \"$1\"' ]; do sleep 0.5; done" || {
		g journalctl --no-pager -u mediaupd.service | tail -n 30 || true
		fail "$1 was not deployed: PendingCommit $(daemon_prop PendingCommit), LastError $(daemon_last_error)"
	}
}
# installed COMMIT WHAT: COMMIT is deployment 0, the booted one is still version 1, there are
# exactly these two, nothing is left and LastError is empty
installed() {
	check_eq "deployment 0 after $2" "$(default_commit)" "$1"
	check_eq "booted after $2" "$(booted_commit)" "$VM_COMMIT_1"
	check_eq "deployments after $2" "$(deployments)" 2
	check_eq "LastError after $2" "$(daemon_last_error)" '(ss) "" ""'
	daemon_clean_after "$2"
}
# unit_stopped WHAT: mediaupd.service ended cleanly (inactive, not failed, exit status 0)
unit_stopped() {
	check_eq "mediaupd.service after $1" "$(g systemctl is-active mediaupd.service || true)" inactive
	check_eq "mediaupd.service Result after $1" \
		"$(g systemctl show -p Result --value mediaupd.service)" success
	check_eq "mediaupd exit status after $1" \
		"$(g systemctl show -p ExecMainStatus --value mediaupd.service)" 0
}
# since: the guest's clock now, for journalctl --since
since() { g date '+%Y-%m-%d %H:%M:%S'; }

vm_up
eng_repo
guest_setup
daemon_install
daemon_conf '[Reboot]' 'Policy=never'

make_update "$T_WORK/b12.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
make_update "$T_WORK/b13.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_3"
c4=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 4 "$(date -u -d '+1 minute' +%FT%TZ)")
c5=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 5 "$(date -u -d '+2 minutes' +%FT%TZ)")
make_update "$T_WORK/b14.enc" --from "$VM_COMMIT_1" --to "$c4"
make_update "$T_WORK/b15.enc" --from "$VM_COMMIT_1" --to "$c5"
daemon_stick "$T_WORK/stick12.img" "$T_WORK/b12.enc"
daemon_stick "$T_WORK/stick14.img" "$T_WORK/b14.enc"
daemon_stick "$T_WORK/stick15.img" "$T_WORK/b15.enc"
cp "$T_WORK/b13.enc" "$T_WORK/static-update.bundle.enc"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/card13.img" --fs ext4 "$T_WORK/static-update.bundle.enc" >/dev/null

# --- two media: the second queued while the first installs, then handled in turn ----------
daemon_dropin "Environment=MEDIAUPD_TEST_PAUSE_AT=apply"
since1=$(since)
t0=$SECONDS
"$VM" plug usb "$T_WORK/stick12.img" stick12
pid1=$(daemon_wait_worker_stopped)
check_eq "State while the first install is held" "$(daemon_string State)" applying
"$VM" plug sd "$T_WORK/card13.img" card13
g timeout 30 sh -c "until busctl get-property ${DAEMON_BUS[*]} QueuedMedia |
	grep -qx 'ao 1 \"$UDISKS_BLOCK/mmcblk0p1\"'; do sleep 0.2; done" ||
	fail "the SD card is not in QueuedMedia while the stick installs: $(daemon_prop QueuedMedia)"
echo "ok: the SD card is queued while the stick installs: $(daemon_prop QueuedMedia)"
check_eq "State with the card queued" "$(daemon_string State)" applying
check_eq "PendingCommit with the card queued" "$(daemon_string PendingCommit)" ""
# udisks2 restarted meanwhile: its objects go and come back, the media stay where they were
g systemctl restart udisks2.service
g timeout 30 sh -c 'until udisksctl status >/dev/null 2>&1; do sleep 0.2; done' ||
	fail "udisks2 did not come back after its restart"
sleep 2
check_eq "State after udisks2 restarted" "$(daemon_string State)" applying
check_eq "QueuedMedia after udisks2 restarted" "$(daemon_prop QueuedMedia)" \
	"ao 1 \"$UDISKS_BLOCK/mmcblk0p1\""
g kill -0 "$pid1" || fail "the held worker ($pid1) is gone after udisks2 restarted"
echo "ok: udisks2 restarted during the install: install and queue unchanged"
g kill -CONT "$pid1"
wait_pending "$VM_COMMIT_2"
pid2=$(daemon_wait_worker_stopped)
[ "$pid2" != "$pid1" ] || fail "the first worker ($pid1) is still there"
check_eq "QueuedMedia while the card installs" "$(daemon_prop QueuedMedia)" "ao 0"
check_eq "PendingCommit when the card's install is held in apply" \
	"$(daemon_string PendingCommit)" "$VM_COMMIT_2"
g kill -CONT "$pid2"
wait_pending "$VM_COMMIT_3"
daemon_wait_rest 60
say "two media installed in turn in $((SECONDS - t0)) s"
deployed=$(g journalctl --no-pager -o cat --since "$since1" MESSAGE_ID=a4e6b84b811cddf92a52a9a044444c78 \
	_SYSTEMD_UNIT=mediaupd.service)
check_eq "deployed events, in order" \
	"$(printf '%s\n' "$deployed" | grep -o -e "$VM_COMMIT_2" -e "$VM_COMMIT_3" | tr '\n' ' ')" \
	"$VM_COMMIT_2 $VM_COMMIT_3 "
installed "$VM_COMMIT_3" "two media"
check_eq "PendingVersion after two media" "$(daemon_string PendingVersion)" 3
"$VM" unplug stick12
"$VM" unplug card13
gone /dev/sda1
gone /dev/mmcblk0p1

# --- the stick pulled while the worker is held at deploy -------------------------------------
daemon_dropin "Environment=MEDIAUPD_TEST_PAUSE_AT=deploy"
daemon_restart
state >"$T_WORK/state.before"
since2=$(since)
"$VM" plug usb "$T_WORK/stick14.img" stick-deploy
pid=$(daemon_wait_worker_stopped)
check_eq "State while held at deploy" "$(daemon_string State)" deploying
"$VM" unplug stick-deploy
gone /dev/sda1
g kill -CONT "$pid"
daemon_wait_rest 120
check_eq "LastError after the stick was pulled at deploy" "$(error_name)" \
	org.mediaupd.Error.MediaRemoved
state >"$T_WORK/state.after"
diff "$T_WORK/state.before" "$T_WORK/state.after" ||
	fail "the system changed after the stick was pulled at deploy"
check_eq "PendingCommit after the stick was pulled at deploy" "$(daemon_string PendingCommit)" \
	"$VM_COMMIT_3"
[ -z "$(g journalctl --no-pager -o cat --since "$since2" MESSAGE_ID=a4e6b84b811cddf92a52a9a044444c78)" ] ||
	fail "a deployed event after the stick was pulled at deploy"
g journalctl --no-pager -o cat --since "$since2" MESSAGE_ID=6171ed3f47ee7550ef616de84e335ce1 \
	MESSAGE_ID=074dea9ae51f8bcec426499edd32dff9 | grep -q 'medium was removed during the update' ||
	fail "no journal event says the medium was removed at deploy"
echo "ok: pulled at deploy: MediaRemoved, nothing deployed, journal says so"
daemon_clean_after "the stick pulled at deploy"

# --- systemctl stop while the worker is held in apply --------------------------------------
daemon_dropin "Environment=MEDIAUPD_TEST_PAUSE_AT=apply"
daemon_restart
"$VM" plug usb "$T_WORK/stick14.img" stick-stop
pid=$(daemon_wait_worker_stopped)
main=$(g systemctl show -p MainPID --value mediaupd.service)
since3=$(since)
g systemctl stop --no-block mediaupd.service
sleep 3
g journalctl --no-pager -o cat -u mediaupd.service --since "$since3" |
	grep -q 'stopping: the running update stops at its next safe point' ||
	fail "the journal does not say that the stop waits for the install's next safe point"
check_eq "mediaupd.service stopped while the worker is held" \
	"$(g systemctl is-active mediaupd.service || true)" deactivating
g kill -0 "$main" || fail "the daemon ($main) did not wait for its install's safe point"
g kill -0 "$pid" || fail "the worker ($pid) is gone before it was let go"
g kill -CONT "$pid"
# shellcheck disable=SC2016 # expanded in the guest
g timeout 120 sh -c 'while [ "$(systemctl is-active mediaupd.service)" = deactivating ]; do sleep 0.2; done' ||
	fail "mediaupd.service did not stop within 120 s of the worker going on"
unit_stopped "SIGTERM in apply"
state >"$T_WORK/state.after"
diff "$T_WORK/state.before" "$T_WORK/state.after" ||
	fail "the system changed after the daemon was stopped in apply"
check_eq "leftovers after the daemon was stopped in apply" "$(daemon_clean | tr '\n' ' ')" \
	"dm: 0 loops: 0 mounts: 0 "
echo "ok: stopped in apply: waited for the worker, exit 0, nothing deployed, nothing left"
"$VM" unplug stick-stop
gone /dev/sda1
daemon_dropin

# --- D-Bus activation ----------------------------------------------------------------------
check_eq "mediaupd.service before the property read" \
	"$(g systemctl is-active mediaupd.service || true)" inactive
check_eq "State read by busctl with the daemon stopped" "$(daemon_prop State)" 's "pending-reboot"'
check_eq "mediaupd.service after the property read" "$(g systemctl is-active mediaupd.service)" active
check_eq "LastError after the stop in apply (saved)" "$(error_name)" org.mediaupd.Error.Cancelled
check_eq "PendingCommit after the restart" "$(daemon_string PendingCommit)" "$VM_COMMIT_3"
g systemctl stop mediaupd.service
unit_stopped "a stop when idle"
status=$(g mediaupdctl status --json) || fail "mediaupdctl status with the daemon stopped failed: $status"
check_eq "mediaupdctl status with the daemon stopped: state" "$(json_field "$status" state)" \
	pending-reboot
check_eq "mediaupd.service after mediaupdctl status" "$(g systemctl is-active mediaupd.service)" active
g systemctl stop mediaupd.service
unit_stopped "a second stop when idle"

# --- the next plug starts the daemon and installs -------------------------------------------
"$VM" plug usb "$T_WORK/stick14.img" stick-again
g timeout 60 sh -c 'until systemctl is-active --quiet mediaupd.service; do sleep 0.2; done' ||
	fail "the udev rule did not start mediaupd.service within 60 s of the plug"
wait_pending "$c4"
daemon_wait_rest 60
installed "$c4" "the plug after the stop"
"$VM" unplug stick-again
gone /dev/sda1

# --- an agent decides: Completed, and no reboot when the stick is pulled --------------------
daemon_conf
daemon_restart
check_eq "RebootPolicy" "$(daemon_string RebootPolicy)" after-removal
boot_id=$(g cat /proc/sys/kernel/random/boot_id)
since5=$(since)
g sh -c 'rm -f /run/watch.rc; (mediaupdctl watch --agent --exit-on-completed --json \
	>/run/watch.out 2>/run/watch.err; echo $? >/run/watch.rc) </dev/null >/dev/null 2>&1 &'
g timeout 30 sh -c 'until grep -q "\"event\":\"agent\",\"registered\":true" /run/watch.out; do
	sleep 0.2; done' || fail "watch --agent did not register: $(g cat /run/watch.out /run/watch.err)"
[ -n "$(daemon_string Agent)" ] || fail "no Agent while watch --agent runs"
"$VM" plug usb "$T_WORK/stick15.img" stick-agent
g timeout 600 sh -c 'until [ -s /run/watch.rc ]; do sleep 0.5; done' ||
	fail "watch --exit-on-completed did not end: $(g cat /run/watch.out)"
check_eq "watch exit status" "$(g cat /run/watch.rc)" 0
completed=$(g sh -c 'grep "\"event\":\"completed\"" /run/watch.out')
check_eq "Completed seen by the agent: success" "$(json_field "$completed" success)" True
daemon_wait_state pending-reboot 60
check_eq "PendingCommit with the agent" "$(daemon_string PendingCommit)" "$c5"
installed "$c5" "the install with an agent"
check_eq "Agent after the watcher ended" "$(daemon_string Agent)" ""
"$VM" unplug stick-agent
gone /dev/sda1
sleep 10
check_eq "boot id 10 s after the stick was pulled" "$(g cat /proc/sys/kernel/random/boot_id)" "$boot_id"
check_eq "State after the stick was pulled" "$(daemon_string State)" pending-reboot
[ -z "$(g journalctl --no-pager -o cat --since "$since5" MESSAGE_ID=67276b80ebe3473287c878a0aa403a95 \
	MESSAGE_ID=9102871f0870444ca54efed658230120)" ] ||
	fail "the daemon announced a reboot although an agent decides"
echo "ok: with an agent: Completed, pending-reboot, no reboot after the stick was pulled"
