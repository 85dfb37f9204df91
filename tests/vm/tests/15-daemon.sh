#!/bin/bash
# vm test 15: the daemon, installed from the build as a package would install it, in one boot
# (and the reboot it asks for at the end):
# - a USB stick with a 1→2 bundle is plugged: the udev rule starts mediaupd.service, which
#   deploys version 2 with no command typed (State pending-reboot, PendingCommit/Version over
#   D-Bus, journal events), and leaves no mount, mapping or loop device;
# - a caller that is not root may read the properties but calls no method (AccessDenied);
# - the stick pulled while the worker is stopped in unlock, and in apply: MediaRemoved,
#   nothing deployed, nothing left; the worker SIGKILLed in apply: WorkerFailed, the daemon
#   still active, nothing left; each time the next plug installs;
# - a stick with three bundles (a foreign file, 1→2 and 1→3): 3 deployed, the others reported
#   skipped;
# - an SD card with a 1→4 bundle the same way;
# - with the default reboot policy (after-removal), a 1→5 stick: the device reboots when the
#   stick is pulled, into version 5 (4 and 5 are the tree of 3, newer commits).
# Needs a build with -Dtest_hooks=true (MEDIAUPD_TEST_PAUSE_AT).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/daemon-lib.sh"

vm_up
eng_repo
guest_setup
daemon_install
score=$(g systemd-analyze security mediaupd.service --no-pager | sed -n 's/^→ Overall exposure level for mediaupd.service: \([0-9.]*\) .*/\1/p')
[ -n "$score" ] || fail "systemd-analyze security printed no exposure level"
awk -v s="$score" 'BEGIN { exit !(s <= 5.0) }' || fail "mediaupd.service exposure $score is above 5.0"
echo "ok: systemd-analyze security mediaupd.service: $score (at most 5.0)"
# No reboot until the last case.
daemon_conf '[Reboot]' 'Policy=never'

make_update "$T_WORK/b12.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
make_update "$T_WORK/b13.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_3"
# Versions 4 and 5: the tree of 3, newer (an update older than the pending one is Downgrade).
c4=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 4 "$(date -u -d '+1 minute' +%FT%TZ)")
c5=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 5 "$(date -u -d '+2 minutes' +%FT%TZ)")
make_update "$T_WORK/b14.enc" --from "$VM_COMMIT_1" --to "$c4"
make_update "$T_WORK/b15.enc" --from "$VM_COMMIT_1" --to "$c5"
daemon_stick "$T_WORK/stick12.img" "$T_WORK/b12.enc"
cp "$T_WORK/b14.enc" "$T_WORK/static-update.bundle.enc"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/card14.img" --fs ext4 "$T_WORK/static-update.bundle.enc" >/dev/null

# --- plugged, deployed, nothing typed -------------------------------------------------------
check_eq "mediaupd.service before the plug" "$(g systemctl is-active mediaupd.service || true)" inactive
t0=$SECONDS
"$VM" plug usb "$T_WORK/stick12.img" stick
g timeout 60 sh -c 'until systemctl is-active --quiet mediaupd.service; do sleep 0.2; done' ||
	fail "the udev rule did not start mediaupd.service within 60 s of the plug"
echo "ok: the plug started mediaupd.service"
daemon_wait_state pending-reboot 600
say "USB stick plugged -> deployed in $((SECONDS - t0)) s"
check_eq "PendingCommit" "$(daemon_string PendingCommit)" "$VM_COMMIT_2"
check_eq "PendingVersion" "$(daemon_string PendingVersion)" 2
check_eq "CurrentCommit" "$(daemon_string CurrentCommit)" "$VM_COMMIT_1"
check_eq "LastError" "$(daemon_last_error)" '(ss) "" ""'
check_eq "deployment 0" "$(default_commit)" "$VM_COMMIT_2"
check_eq "booted" "$(booted_commit)" "$VM_COMMIT_1"
[ -n "$(daemon_events 0225d7dc771eb4c05bc9c16dd600d6d1)" ] || fail "no bundle-found event in the journal"
daemon_events a4e6b84b811cddf92a52a9a044444c78 | grep -q "$VM_COMMIT_2" ||
	fail "no deployed event naming $VM_COMMIT_2 in the journal: $(daemon_events a4e6b84b811cddf92a52a9a044444c78)"
echo "ok: bundle-found and deployed events in the journal"
daemon_clean_after "the install"
"$VM" unplug stick
sleep 2
check_eq "State after the stick was pulled ([Reboot] Policy=never)" "$(daemon_string State)" pending-reboot

# --- a caller that is not root -------------------------------------------------------------
check_eq "State read by nobody" \
	"$(g setpriv --reuid=nobody --regid=nogroup --clear-groups busctl get-property "${DAEMON_BUS[@]}" State)" \
	's "pending-reboot"'
# as_nobody METHOD: a method call of the manager by the user nobody (dbus-send prints the
# D-Bus error's name)
as_nobody() {
	g setpriv --reuid=nobody --regid=nogroup --clear-groups dbus-send --system --print-reply \
		--dest=org.mediaupd.Manager1 /org/mediaupd/Manager1 "org.mediaupd.Manager1.$1" 2>&1 || true
}
for method in Cancel MarkBootSuccessful RegisterAgent; do
	denied=$(as_nobody "$method")
	case $denied in
	*"org.freedesktop.DBus.Error.AccessDenied: Rejected send message"*)
		echo "ok: $method by nobody refused by the bus policy" ;;
	*) fail "$method by nobody was not refused by the bus policy: '$denied'" ;;
	esac
done
check_eq "RebootPolicy read by nobody with dbus-send" "$(g setpriv --reuid=nobody --regid=nogroup \
	--clear-groups dbus-send --system --print-reply=literal --dest=org.mediaupd.Manager1 \
	/org/mediaupd/Manager1 org.freedesktop.DBus.Properties.Get \
	string:org.mediaupd.Manager1 string:RebootPolicy | tr -s ' ' | sed 's/^ //')" "variant never"
check_eq "State after the refused calls" "$(daemon_string State)" pending-reboot

# --- stick pulled while stopped in unlock, then in apply; worker killed in apply -------------
# With a 1→3 bundle: the pending version 2 again would be refused (AlreadyInstalled) before
# apply.
daemon_stick "$T_WORK/stick13.img" "$T_WORK/b13.enc"
daemon_stick "$T_WORK/stick15.img" "$T_WORK/b15.enc"
state >"$T_WORK/state.before"
for phase in unlock apply; do
	daemon_dropin "Environment=MEDIAUPD_TEST_PAUSE_AT=$phase"
	daemon_restart
	"$VM" plug usb "$T_WORK/stick13.img" "stick-$phase"
	pid=$(daemon_wait_worker_stopped)
	"$VM" unplug "stick-$phase"
	g timeout 20 sh -c 'while [ -e /dev/sda1 ]; do sleep 0.1; done' || fail "the stick did not go"
	g kill -CONT "$pid"
	daemon_wait_rest 120
	check_eq "LastError after the stick was pulled in $phase" \
		"$(daemon_last_error | cut -d'"' -f2)" org.mediaupd.Error.MediaRemoved
	state >"$T_WORK/state.after"
	diff "$T_WORK/state.before" "$T_WORK/state.after" ||
		fail "the system changed after the stick was pulled in $phase"
	echo "ok: pulled in $phase: MediaRemoved, nothing deployed"
	daemon_clean_after "the stick pulled in $phase"
done
# at least one event for each of the two (a stopped check and the install may each say so)
removed_events=$(g journalctl --no-pager -b -o cat MESSAGE_ID=6171ed3f47ee7550ef616de84e335ce1 \
	MESSAGE_ID=074dea9ae51f8bcec426499edd32dff9 | grep -c 'medium was removed during the update')
[ "$removed_events" -ge 2 ] ||
	fail "$removed_events journal events say the medium was removed during the update, expected 2 or more"
echo "ok: $removed_events journal events say the medium was removed during the update"

"$VM" plug usb "$T_WORK/stick13.img" stick-kill
pid=$(daemon_wait_worker_stopped)
g kill -KILL "$pid"
daemon_wait_rest 120
check_eq "LastError after the worker was killed" "$(daemon_last_error | cut -d'"' -f2)" \
	org.mediaupd.Error.WorkerFailed
state >"$T_WORK/state.after"
diff "$T_WORK/state.before" "$T_WORK/state.after" || fail "the system changed after the worker was killed"
daemon_clean_after "the worker was killed"
echo "ok: worker killed in apply: WorkerFailed, daemon up, nothing deployed, nothing left"
"$VM" unplug stick-kill
g timeout 20 sh -c 'while [ -e /dev/sda1 ]; do sleep 0.1; done' || fail "the stick did not go"

# --- three bundles on one stick: a foreign file, an older and a newer update -------------------
daemon_dropin
daemon_conf '[Reboot]' 'Policy=never' '[Bundle]' 'Names=foreign.enc;older.enc;newer.enc'
daemon_restart
head -c 1M /dev/urandom >"$T_WORK/foreign.enc"
cp "$T_WORK/b12.enc" "$T_WORK/older.enc"
cp "$T_WORK/b13.enc" "$T_WORK/newer.enc"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick3.img" --fs vfat "$T_WORK/foreign.enc" \
	"$T_WORK/older.enc" "$T_WORK/newer.enc" >/dev/null
since=$(g date '+%Y-%m-%d %H:%M:%S')
"$VM" plug usb "$T_WORK/stick3.img" stick3
g timeout 600 sh -c "until [ \"\$(busctl get-property ${DAEMON_BUS[*]} PendingCommit)\" = 's \"$VM_COMMIT_3\"' ]; do sleep 0.5; done" ||
	fail "the newer bundle was not deployed: PendingCommit $(daemon_prop PendingCommit)"
daemon_wait_rest 60
check_eq "LastError after three bundles" "$(daemon_last_error)" '(ss) "" ""'
check_eq "deployment 0 after three bundles" "$(default_commit)" "$VM_COMMIT_3"
skipped=$(g journalctl --no-pager -o cat --since "$since" MESSAGE_ID=7b5fd067f90341a99e30cc75616f0d8f)
printf '%s\n' "$skipped" | grep -q foreign.enc || fail "foreign.enc was not reported skipped: '$skipped'"
printf '%s\n' "$skipped" | grep -q older.enc || fail "older.enc was not reported skipped: '$skipped'"
printf '%s\n' "$skipped" | grep -q newer.enc && fail "newer.enc was reported skipped: '$skipped'"
echo "ok: newer.enc deployed, foreign.enc and older.enc reported skipped:"
printf '  %s\n' "$skipped"
daemon_clean_after "the stick with three bundles"
"$VM" unplug stick3

# --- SD card, another version ------------------------------------------------------------------
daemon_conf '[Reboot]' 'Policy=never'
daemon_restart
"$VM" plug sd "$T_WORK/card14.img" card
g timeout 600 sh -c "until [ \"\$(busctl get-property ${DAEMON_BUS[*]} PendingCommit)\" = 's \"$c4\"' ]; do sleep 0.5; done" ||
	fail "the SD card's bundle was not deployed: PendingCommit $(daemon_prop PendingCommit), LastError $(daemon_last_error)"
daemon_wait_state pending-reboot 60
check_eq "PendingVersion from the SD card" "$(daemon_string PendingVersion)" 4
check_eq "LastError" "$(daemon_last_error)" '(ss) "" ""'
check_eq "deployment 0" "$(default_commit)" "$c4"
daemon_clean_after "the install from the SD card"
"$VM" unplug card

# --- the default reboot policy: reboot once the stick is pulled --------------------------------
daemon_conf
daemon_restart
check_eq "RebootPolicy" "$(daemon_string RebootPolicy)" after-removal
"$VM" plug usb "$T_WORK/stick15.img" stick-reboot
g timeout 600 sh -c "until [ \"\$(busctl get-property ${DAEMON_BUS[*]} PendingCommit)\" = 's \"$c5\"' ]; do sleep 0.5; done" ||
	fail "the bundle was not deployed: PendingCommit $(daemon_prop PendingCommit), LastError $(daemon_last_error)"
daemon_wait_state pending-reboot 60
boot0=$(sed -n 's/^ready //p' "$MEDIAUPD_VM_RUN/state")
sleep 3
check_eq "boot while the stick is in" "$(sed -n 's/^ready //p' "$MEDIAUPD_VM_RUN/state")" "$boot0"
"$VM" unplug stick-reboot
t0=$SECONDS
while [ "$(cat "$MEDIAUPD_VM_RUN/state")" = "ready $boot0" ]; do
	[ $((SECONDS - t0)) -lt 120 ] || fail "the guest did not reboot within 120 s of the stick being pulled"
	sleep 0.5
done
until grep -q "^ready $((boot0 + 1))\$" "$MEDIAUPD_VM_RUN/state"; do
	[ $((SECONDS - t0)) -lt 400 ] || fail "the guest did not come back after its reboot"
	grep -q '^failed' "$MEDIAUPD_VM_RUN/state" && fail "the board failed to boot the guest again"
	sleep 0.5
done
say "rebooted $((SECONDS - t0)) s after the stick was pulled"
check_eq "booted after the reboot" "$(booted_commit)" "$c5"
check_eq "version file after the reboot (the tree of 3)" "$(g cat /usr/lib/mediaupd-testos/version)" 3
