#!/bin/bash
# vm test 13: what happens to `mediaupdctl apply --local` around it, on the OSTree-booted guest
# with a real stick, dm-crypt, loop devices and mounts. One boot, these cases in order:
#  - stdout closed early (`--json | head -1`): the install still completes, nothing is left;
#  - SIGKILL during unlock (a slow PBKDF), at verify, in the middle of apply and at deploy: the
#    next run removes what was left (mount, mapping, loop) and the system is as before;
#  - a second install while one runs gets Busy (exit 1, JSON, journal), and the first one,
#    held at apply meanwhile, still installs;
#  - the bundle's mapping kept busy at finish: the update is installed, with the teardown-failed
#    warning event, and the next run closes the mapping;
#  - the inner mount gone before finish unmounts it: installed, with the warning, and the
#    mapping and loop device closed all the same;
#  - the stick pulled during unlock: MediaRemoved, nothing changed.
# The engine is stopped at a phase with MEDIAUPD_TEST_PAUSE_AT (a build with -Dtest_hooks=true).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"

FAILED_ID=6171ed3f47ee7550ef616de84e335ce1
DEPLOYED_ID=a4e6b84b811cddf92a52a9a044444c78
TEARDOWN_ID=1ca3aa65b2b64ba79d788953fd38400e
m=$T_WORK/media
mkdir -p "$m"

"${MEDIAUPD_BUILD_ROOT:?}/daemon/mediaupdctl/mediaupdctl" --version | grep -q 'test hooks' ||
	fail "this test needs a build with -Dtest_hooks=true (meson configure -Dtest_hooks=true)"

# The image facts without booting: the bundles are made before the guest takes the machine.
eval "$("$VM" info)"
eng_repo
# Each install that completes is newer than the one before it (the pending deployment).
c4=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 3.1 "$(date -u +%FT%TZ)")
c5=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 3.2 "$(date -u +%FT%TZ)")
# The slow bundle is never installed (killed in its key trial, its stick pulled): newer than
# every install here, so that format 2's policy check, before any key, lets it through.
c6=$(eng_commit "$VM_REF" "$VM_COMMIT_3" 3.3 "$(date -u -d '+1 hour' +%FT%TZ)")
make_update "$m/to-2.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
make_update "$m/to-3.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_3"
make_update "$m/to-4.enc" --from "$VM_COMMIT_1" --to "$c4"
make_update "$m/to-5.enc" --from "$VM_COMMIT_1" --to "$c5"
make_update "$m/full.enc" --empty --to "$VM_COMMIT_3"
# One PBKDF of 300000 pbkdf2 iterations: about ten seconds under TCG, within the limits.
make_update "$m/slow.enc" --from "$VM_COMMIT_1" --to "$c6" --pbkdf pbkdf2 \
	--pbkdf-iterations 300000
head -c 1048576 /dev/urandom >"$m/not-luks.enc"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs ext4 "$m"/*

vm_up
guest_setup
plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 ext4 >/dev/null
g udisksctl mount -b /dev/sda1 -o ro,nosuid,nodev,noexec >/dev/null
mnt=$(g findmnt -n -o TARGET --source /dev/sda1 | head -n 1)

# leftovers: the counts of mappings, loop devices and mounts that state() reports
leftovers() { state | grep -E '^(dm|loops|mounts): '; }

# start NAME BUNDLE [PHASE]: run the engine in the background in the guest (stopped when it
# enters PHASE); its pid in /run/NAME.pid, JSON lines in /run/NAME.out, exit status in
# /run/NAME.rc
start() {
	local name=$1 bundle=$2 phase=${3:-}
	g sh -c "(MEDIAUPD_TEST_PAUSE_AT='$phase' mediaupdctl apply --local '$mnt/$bundle' --json \
		--config $GUEST_CONF >/run/$name.out 2>/run/$name.err & echo \$! >/run/$name.pid
		wait \$!; echo \$? >/run/$name.rc) >/dev/null 2>&1 &
		until [ -s /run/$name.pid ]; do sleep 0.05; done"
}
pid_of() { g cat "/run/$1.pid"; }
# wait_stopped NAME: until the engine has stopped itself at its pause point
wait_stopped() {
	g timeout 300 sh -c "until [ \"\$(cut -d' ' -f3 /proc/$(pid_of "$1")/stat)\" = T ]; do
		sleep 0.1; done" || fail "$1: the engine did not stop at its pause point"
}
# wait_line NAME REGEX: until the engine's JSON output has a line matching REGEX
wait_line() {
	g timeout 300 sh -c "until grep -Eq '$2' /run/$1.out; do sleep 0.05; done" ||
		fail "$1: no output line matching $2"
}
# wait_exit NAME: until the engine has exited; prints its exit status
wait_exit() {
	g timeout 300 sh -c "until [ -s /run/$1.rc ]; do sleep 0.1; done" ||
		fail "$1: the engine did not exit"
	g cat "/run/$1.rc"
}
# next_run_cleans WHAT: a later run (a refused file, so that only its startup cleanup acts)
# removes what the killed one left: the system is as it was before the killed one started
next_run_cleans() {
	local result rc=0
	result=$(apply "$mnt/not-luks.enc") || rc=$?
	check_eq "$1: the next run" "$rc:$(json_field "$result" error)" 1:NotABundle
	state >"$T_WORK/after"
	diff -u "$T_WORK/before" "$T_WORK/after" || fail "$1: the next run left the system changed"
	echo "ok: $1: the next run removed what was left; the system is as before"
}
# killed NAME: SIGKILL the engine; prints what it left
killed() {
	g kill -KILL "$(pid_of "$1")"
	check_eq "$1: exit status" "$(wait_exit "$1")" 137
	say "$1 left: $(leftovers | tr '\n' ' ')"
}

# --- stdout closed after the first line: SIGPIPE must neither kill the install half-way nor
# leave anything behind; the journal has the whole record.
state >"$T_WORK/before"
t0=$SECONDS
g bash -c "mediaupdctl apply --local '$mnt/to-2.enc' --json --config $GUEST_CONF 2>/run/pipe.err |
	head -n 1 >/run/pipe.first; echo \"\${PIPESTATUS[0]}\" >/run/pipe.rc"
say "pipe: install took $((SECONDS - t0)) s"
check_eq "pipe: exit status" "$(g cat /run/pipe.rc)" 0
check_eq "pipe: lines the reader got" "$(g sh -c 'wc -l </run/pipe.first')" 1
g grep -q '"event":"progress"' /run/pipe.first || fail "pipe: the first line is no progress line"
check_eq "pipe: default deployment" "$(default_commit)" "$VM_COMMIT_2"
g journalctl -o cat MESSAGE_ID=$DEPLOYED_ID | grep -q "$VM_COMMIT_2" ||
	fail "pipe: no 'deployed' journal event"
check_eq "pipe: leftovers" "$(leftovers | tr '\n' ' ')" "dm: 0 loops: 0 mounts: 0 "
echo "ok: stdout closed early: installed, nothing left, the journal has the record"

# --- SIGKILL while the key trial runs (a slow PBKDF).
state >"$T_WORK/before"
start unlock-kill slow.enc
wait_line unlock-kill '"phase":"unlock"'
g sleep 1
g tail -n 1 /run/unlock-kill.out | grep -q '"phase":"unlock"' ||
	fail "unlock-kill: the key trial ended before the kill: make the PBKDF slower"
killed unlock-kill
next_run_cleans "SIGKILL during unlock"

# --- SIGKILL with the bundle unlocked and mounted (format 2: held as the apply starts; its
# first verify phase, the signed header's, comes before the unlock): the dm-verity and the
# dm-crypt mapping, the loop device and the mount are left.
state >"$T_WORK/before"
start verify-kill to-3.enc apply
wait_stopped verify-kill
check_eq "verify-kill: held at apply" "$(leftovers | tr '\n' ' ')" "dm: 2 loops: 1 mounts: 1 "
killed verify-kill
next_run_cleans "SIGKILL at verify"

# --- SIGKILL while libostree applies a full update.
state >"$T_WORK/before"
start apply-kill full.enc
wait_line apply-kill '"phase":"apply".*"parts_done":[1-9]'
killed apply-kill
next_run_cleans "SIGKILL during apply"

# --- SIGKILL at deploy: the commit is in the repository, not deployed.
state >"$T_WORK/before"
start deploy-kill to-3.enc deploy
wait_stopped deploy-kill
killed deploy-kill
next_run_cleans "SIGKILL at deploy"

# --- A second install while one is running (held at apply: format 2 has two verify phases,
# and the hook would stop it at each): Busy, and the first is unaffected.
start first to-3.enc apply
wait_stopped first
state >"$T_WORK/held"
rc=0
result=$(apply "$mnt/to-3.enc") || rc=$?
check_eq "second install: exit status" "$rc" 1
check_eq "second install: error" "$(json_field "$result" error)" Busy
say "second install: $(json_field "$result" message)"
g journalctl -o cat --output-fields=MEDIAUPD_ERROR MESSAGE_ID=$FAILED_ID \
	MEDIAUPD_BUNDLE="$mnt/to-3.enc" | grep -qx Busy || fail "second install: no journal event Busy"
state >"$T_WORK/after"
diff -u "$T_WORK/held" "$T_WORK/after" || fail "second install: it changed the first one's state"
g kill -CONT "$(pid_of first)"
check_eq "first install: exit status" "$(wait_exit first)" 0
check_eq "first install: success" "$(json_field "$(g tail -n 1 /run/first.out)" success)" True
check_eq "first install: default deployment" "$(default_commit)" "$VM_COMMIT_3"
check_eq "first install: leftovers" "$(leftovers | tr '\n' ' ')" "dm: 0 loops: 0 mounts: 0 "
echo "ok: a second install got Busy; the first one installed"

# --- The mapping kept busy at finish (a process inside the inner mount): installed, with a
# warning, and the next run closes what is left.
start busy-finish to-4.enc finish
wait_stopped busy-finish
g sh -c 'cd /run/mediaupd/bundle-* && exec sleep 600 </dev/null >/dev/null 2>&1 &
	echo $! >/run/holder.pid'
t0=$SECONDS
g kill -CONT "$(pid_of busy-finish)"
check_eq "busy-finish: exit status" "$(wait_exit busy-finish)" 0
say "busy-finish: the teardown took $((SECONDS - t0)) s"
result=$(g tail -n 1 /run/busy-finish.out)
check_eq "busy-finish: success" "$(json_field "$result" success)" True
check_eq "busy-finish: default deployment" "$(default_commit)" "$c4"
g journalctl -o cat --output-fields=MEDIAUPD_ATTEMPTS MESSAGE_ID=$TEARDOWN_ID \
	MEDIAUPD_BUNDLE="$mnt/to-4.enc" | grep -qx 3 ||
	fail "busy-finish: no teardown-failed journal event after 3 attempts"
g journalctl -o cat MESSAGE_ID=$DEPLOYED_ID | grep -q "$c4" ||
	fail "busy-finish: no 'deployed' journal event"
say "busy-finish left: $(leftovers | tr '\n' ' ')"
g kill "$(g cat /run/holder.pid)"
state >"$T_WORK/before"
sed -i -e 's/^dm: .*/dm: 0/' -e 's/^loops: .*/loops: 0/' -e 's/^mounts: .*/mounts: 0/' \
	"$T_WORK/before"
next_run_cleans "mapping busy at finish"

# --- The inner mount cannot be unmounted at finish (here: someone else detached it first,
# lazily, as the engine still holds a directory in it):
# the failed unmount must not keep the mapping and the loop device from being closed.
start unmount-fails to-5.enc finish
wait_stopped unmount-fails
# shellcheck disable=SC2016 # expanded by the guest's shell
g sh -c 'umount -l "$(findmnt -rn -o TARGET | grep ^/run/mediaupd/bundle-)"'
g kill -CONT "$(pid_of unmount-fails)"
check_eq "unmount-fails: exit status" "$(wait_exit unmount-fails)" 0
result=$(g tail -n 1 /run/unmount-fails.out)
check_eq "unmount-fails: success" "$(json_field "$result" success)" True
check_eq "unmount-fails: default deployment" "$(default_commit)" "$c5"
g journalctl -o cat --output-fields=MEDIAUPD_ATTEMPTS MESSAGE_ID=$TEARDOWN_ID \
	MEDIAUPD_BUNDLE="$mnt/to-5.enc" | grep -qx 3 ||
	fail "unmount-fails: no teardown-failed journal event after 3 attempts"
check_eq "unmount-fails: leftovers" "$(leftovers | tr '\n' ' ')" "dm: 0 loops: 0 mounts: 0 "
echo "ok: a failed unmount at finish still closed the mapping and the loop device"

# --- The stick pulled during unlock: MediaRemoved ('failed', not 'refused'), nothing changed.
state >"$T_WORK/before"
g sh -c 'echo 3 >/proc/sys/vm/drop_caches'
start pulled slow.enc
wait_line pulled '"phase":"unlock"'
"$VM" unplug stick
check_eq "pulled: exit status" "$(wait_exit pulled)" 1
result=$(g tail -n 1 /run/pulled.out)
check_eq "pulled: phase" "$(json_field "$result" phase)" unlock
check_eq "pulled: error" "$(json_field "$result" error)" MediaRemoved
g journalctl -o cat --output-fields=MEDIAUPD_ERROR MESSAGE_ID=$FAILED_ID \
	MEDIAUPD_BUNDLE="$mnt/slow.enc" | grep -qx MediaRemoved ||
	fail "pulled: no 'failed' journal event with MediaRemoved"
state >"$T_WORK/after"
diff -u "$T_WORK/before" "$T_WORK/after" || fail "pulled: the system changed"
echo "ok: the stick pulled during unlock: MediaRemoved, nothing changed"
