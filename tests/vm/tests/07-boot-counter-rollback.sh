#!/bin/bash
# vm test 7: version 4 (its PID 1 exits at once, so the kernel panics) is deployed and the
# U-Boot boot counter armed (upgrade_available=1, bootcount=0). The board's boot loader boots
# version 4 while bootcount <= bootlimit, then falls back to the previous deployment: version 1
# runs again.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

vm_up
limit=$(g fw_printenv -n bootlimit)
delta "$VM_COMMIT_1" "$VM_COMMIT_4" "$T_WORK/delta-1-4"
deploy_by_hand "$T_WORK/delta-1-4" "$VM_COMMIT_4"
g fw_setenv bootcount 0
g fw_setenv upgrade_available 1
boots_before=$(grep -c ' power on: ' "$MEDIAUPD_VM_RUN/boots.log")

"$VM" reboot
cat "$MEDIAUPD_VM_RUN/boots.log"
check_eq "booted commit after the fallback" "$(booted_commit)" "$VM_COMMIT_1"
check_eq "test OS version after the fallback" "$(g cat /usr/lib/mediaupd-testos/version)" 1
# version 4 is still the default deployment; the boot loader chose the other one
check_eq "default deployment" "$(default_commit)" "$VM_COMMIT_4"

# the board's record: bootlimit boots of version 4 that panicked, then the fallback
since=$(awk -v n="$boots_before" '$3 == "power" && $2 > n' "$MEDIAUPD_VM_RUN/boots.log")
failed=$(grep -c -- '-> bootcmd' <<<"$since" || true)
check_eq "boots of version 4 before the fallback" "$failed" "$limit"
grep -q -- '-> altbootcmd' <<<"$since" || fail "the boot loader never ran altbootcmd"
panics=$(awk -v n="$boots_before" '$2 > n && /off \(Kernel panic/' "$MEDIAUPD_VM_RUN/boots.log" | wc -l)
check_eq "kernel panics of version 4" "$panics" "$limit"
check_eq "bootcount seen by the guest" "$(g fw_printenv -n bootcount)" $((limit + 1))
