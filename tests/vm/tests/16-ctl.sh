#!/bin/bash
# vm test 16: mediaupdctl as the daemon's D-Bus client, on the OSTree-booted guest with the
# daemon installed from the build, in one boot:
# - `status --json`: idle, the booted commit, nothing pending, no agent;
# - `watch --agent --exit-on-completed --json` is the agent (status shows it) while
#   `mediaupdctl apply FILE --json` has the daemon install a 1→2 bundle given by descriptor:
#   apply exits 0 with the pending version and commit after progress lines of the apply
#   and deploy phases; the watcher prints Completed (success), unregisters and exits 0; status then
#   shows version 2 pending and no agent; the new deployment is the default, the guest did
#   not reboot, nothing is left mounted or mapped;
# - `apply` of random bytes: exit 1, NotABundle, the system as it was; of a directory: exit 1,
#   InvalidArgument, the daemon not even asked (LastError unchanged).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/daemon-lib.sh"

# ctl ARGS...: mediaupdctl ARGS in the guest; its stdout in OUT, its exit status in RC
ctl() {
	RC=0
	OUT=$(g mediaupdctl "$@") || RC=$?
}
# status_field NAME: a member of `mediaupdctl status --json`
status_field() {
	ctl status --json
	[ "$RC" = 0 ] || fail "mediaupdctl status --json exited $RC: $OUT"
	json_field "$OUT" "$1"
}

vm_up
eng_repo
guest_setup
daemon_install
boot0=$(sed -n 's/^ready //p' "$MEDIAUPD_VM_RUN/state")

make_update "$T_WORK/b12.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
"$VM" copy-in "$T_WORK/b12.enc" /var/tmp/b12.enc
head -c 1M /dev/urandom >"$T_WORK/junk.enc"
"$VM" copy-in "$T_WORK/junk.enc" /var/tmp/junk.enc
# The daemon's configuration (under the build's prefix): the guest's keys; the default
# reboot policy, which ApplyBundle never acts on.
DAEMON_CONF=$(sed -n 's/^#define MEDIAUPD_SYSCONFDIR "\(.*\)"$/\1/p' "$MEDIAUPD_BUILD_ROOT/config.h")/mediaupd.conf
g mkdir -p "${DAEMON_CONF%/*}"
g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' >$DAEMON_CONF"
g systemctl restart mediaupd.service
daemon_wait_rest 60

# --- status before ------------------------------------------------------------------------
check_eq "state" "$(status_field state)" idle
check_eq "current_commit" "$(status_field current_commit)" "$VM_COMMIT_1"
check_eq "pending_commit" "$(status_field pending_commit)" ""
check_eq "agent" "$(status_field agent)" ""

# --- apply FILE over D-Bus, with watch --agent ----------------------------------------------
g sh -c 'rm -f /run/watch.rc; (mediaupdctl watch --agent --exit-on-completed --json \
	>/run/watch.out 2>/run/watch.err; echo $? >/run/watch.rc) </dev/null >/dev/null 2>&1 &'
g timeout 30 sh -c 'until grep -q "\"event\":\"agent\",\"registered\":true" /run/watch.out; do
	sleep 0.2; done' || fail "watch --agent did not register: $(g cat /run/watch.out /run/watch.err)"
agent=$(g sh -c 'grep "\"event\":\"agent\"" /run/watch.out | head -n 1')
check_eq "agent while watch --agent runs" "$(status_field agent)" "$(json_field "$agent" name)"

t0=$SECONDS
ctl apply /var/tmp/b12.enc --json
say "mediaupdctl apply FILE: installed in $((SECONDS - t0)) s"
last=$(printf '%s\n' "$OUT" | tail -n 1)
if [ "$RC" != 0 ]; then
	g journalctl --no-pager -b -u mediaupd.service | tail -n 40 || true
	fail "mediaupdctl apply FILE exited $RC: $OUT"
fi
check_eq "result event" "$(json_field "$last" event)" result
check_eq "result success" "$(json_field "$last" success)" True
check_eq "result pending_version" "$(json_field "$last" pending_version)" 2
check_eq "result pending_commit" "$(json_field "$last" pending_commit)" "$VM_COMMIT_2"
# The daemon may merge quick phases; the long ones are seen.
for phase in apply deploy; do
	printf '%s\n' "$OUT" | grep -q "\"event\":\"progress\",\"phase\":\"$phase\"" ||
		fail "no progress line of phase $phase: $OUT"
done
echo "ok: progress lines of the apply and deploy phases"

g timeout 30 sh -c 'until [ -s /run/watch.rc ]; do sleep 0.2; done' ||
	fail "watch --exit-on-completed did not end after the install: $(g cat /run/watch.out)"
check_eq "watch exit status" "$(g cat /run/watch.rc)" 0
completed=$(g sh -c 'grep "\"event\":\"completed\"" /run/watch.out')
check_eq "Completed seen by watch" "$(json_field "$completed" success)" True
g grep -q '"event":"agent","registered":false' /run/watch.out ||
	fail "watch did not unregister: $(g cat /run/watch.out)"
g grep -q '"event":"state","state":"applying"' /run/watch.out ||
	fail "watch did not follow State: $(g cat /run/watch.out)"
echo "ok: watch --agent followed the install, saw Completed, unregistered"

daemon_wait_state pending-reboot 30
check_eq "pending_version after apply" "$(status_field pending_version)" 2
check_eq "agent after watch ended" "$(status_field agent)" ""
check_eq "deployment 0" "$(default_commit)" "$VM_COMMIT_2"
check_eq "booted" "$(booted_commit)" "$VM_COMMIT_1"
check_eq "leftovers" "$(daemon_clean | tr '\n' ' ')" "dm: 0 loops: 0 mounts: 0 "

# --- refusals -------------------------------------------------------------------------------
state >"$T_WORK/state.before"
ctl apply /var/tmp/junk.enc --json
last=$(printf '%s\n' "$OUT" | tail -n 1)
check_eq "apply of random bytes: exit status" "$RC" 1
check_eq "apply of random bytes: error" "$(json_field "$last" error)" NotABundle
check_eq "apply of random bytes: dbus_error" "$(json_field "$last" dbus_error)" \
	org.mediaupd.Error.NotABundle
state >"$T_WORK/state.after"
diff "$T_WORK/state.before" "$T_WORK/state.after" || fail "the system changed after a refused apply"
last_error=$(status_field last_error)
case $last_error in
*NotABundle*) echo "ok: LastError is NotABundle" ;;
*) fail "LastError after the refused apply: $last_error" ;;
esac

ctl apply /var/tmp --json
last=$(printf '%s\n' "$OUT" | tail -n 1)
check_eq "apply of a directory: exit status" "$RC" 1
check_eq "apply of a directory: error" "$(json_field "$last" error)" InvalidArgument
check_eq "LastError after the directory" "$(status_field last_error)" "$last_error"
state >"$T_WORK/state.after"
diff "$T_WORK/state.before" "$T_WORK/state.after" || fail "the system changed after a refused apply"

check_eq "no reboot (ApplyBundle never reboots)" "$(sed -n 's/^ready //p' "$MEDIAUPD_VM_RUN/state")" "$boot0"
